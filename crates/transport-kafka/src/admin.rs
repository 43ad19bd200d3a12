//! The topic and the group seen from outside: creating the topic, measuring the group's lag.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::KafkaSettings;

/// How long one look at the broker (metadata, offsets, watermarks) may take.
const LOOK_TIMEOUT: Duration = Duration::from_secs(2);

/// Creates the topic with `settings.partitions` partitions unless it exists.
///
/// # Errors
/// When the broker cannot be reached or refuses to create it.
pub async fn ensure_topic(settings: &KafkaSettings) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = settings
        .client_config()
        .create()
        .context("create the kafka admin client")?;
    let topic = NewTopic::new(
        &settings.topic,
        settings.partitions,
        TopicReplication::Fixed(settings.replication),
    );
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(&[topic], &options)
        .await
        .context("create the stream's topic")?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => anyhow::bail!("cannot create topic {topic}: {code}"),
        }
    }
    Ok(())
}

/// The consumer group's lag: per partition, the high watermark minus the committed offset
/// (the low watermark where nothing is committed), summed. A client of its own that never
/// joins the group.
#[derive(Clone)]
pub struct StreamLag {
    client: Arc<BaseConsumer>,
    topic: String,
}

impl std::fmt::Debug for StreamLag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamLag")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl StreamLag {
    /// # Errors
    /// When the configuration is refused.
    pub fn new(settings: &KafkaSettings) -> anyhow::Result<Self> {
        let client: BaseConsumer = settings
            .client_config()
            .set("group.id", &settings.group)
            .set("enable.auto.commit", "false")
            .create()
            .context("create the kafka lag client")?;
        Ok(Self {
            client: Arc::new(client),
            topic: settings.topic.clone(),
        })
    }

    /// Events on the topic that the group has not committed past.
    ///
    /// # Errors
    /// When the broker does not answer within a few seconds.
    pub async fn lag(&self) -> anyhow::Result<u64> {
        let client = self.client.clone();
        let topic = self.topic.clone();
        tokio::task::spawn_blocking(move || lag_of(&client, &topic))
            .await
            .context("measure the stream's lag")?
    }
}

fn lag_of(client: &BaseConsumer, topic: &str) -> anyhow::Result<u64> {
    let metadata = client
        .fetch_metadata(Some(topic), LOOK_TIMEOUT)
        .context("read the topic's partitions")?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| {
            t.partitions()
                .iter()
                .map(rdkafka::metadata::MetadataPartition::id)
        })
        .collect();
    anyhow::ensure!(!partitions.is_empty(), "topic {topic} has no partitions");
    let mut list = TopicPartitionList::new();
    for &partition in &partitions {
        list.add_partition(topic, partition);
    }
    let committed = client
        .committed_offsets(list, LOOK_TIMEOUT)
        .context("read the group's committed offsets")?;
    let mut lag = 0_u64;
    for &partition in &partitions {
        let (low, high) = client
            .fetch_watermarks(topic, partition, LOOK_TIMEOUT)
            .context("read a partition's watermarks")?;
        let position = match committed
            .find_partition(topic, partition)
            .map(|element| element.offset())
        {
            Some(Offset::Offset(offset)) => offset,
            _ => low,
        };
        lag += u64::try_from(high.saturating_sub(position)).unwrap_or(0);
    }
    Ok(lag)
}
