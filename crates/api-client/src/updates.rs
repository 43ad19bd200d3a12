//! `GET /api/v1/order-updates`: the server-sent stream of order status changes, read event by
//! event. Only the two events the server sends are read (`update`, `lagged`); comments (the
//! server's keep-alives) and other events are skipped.

use api::{LAGGED_EVENT, OrderUpdate, UPDATE_EVENT, UpdateNotice};
use reqwest::{Method, StatusCode, Url};

use crate::answer::Answer;
use crate::client::ApiClient;
use crate::error::{ClientError, Result};

/// An open stream of order updates; dropping it closes the connection.
#[derive(Debug)]
pub struct UpdateStream {
    response: reqwest::Response,
    url: Url,
    /// Bytes received and not yet read as a whole event.
    pending: Vec<u8>,
}

impl ApiClient {
    /// `GET /order-updates` (admin): every order status change from now on. The stream has
    /// no timeout: it lasts until the server or the caller closes it.
    ///
    /// # Errors
    /// When the stream cannot be opened: [`ClientError::Unreachable`], or the problem the
    /// server answered with (`401` without the admin token, `403` with a customer token).
    pub async fn order_updates(&self) -> Result<UpdateStream> {
        let request = self.admin_stream_request(Method::GET, &["order-updates"]);
        let response = request
            .send()
            .await
            .map_err(|source| self.unreachable(source))?;
        let url = response.url().clone();
        let status = response.status();
        if status.is_success() {
            return Ok(UpdateStream {
                response,
                url,
                pending: Vec::new(),
            });
        }
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|source| self.unreachable(source))?;
        match Answer::new(url.clone(), status, headers, body.to_vec()).successful() {
            Err(problem) => Err(problem),
            Ok(_) => Err(ClientError::Unexpected {
                url,
                status,
                source: serde::de::Error::custom("not a success, yet not refused"),
            }),
        }
    }
}

impl UpdateStream {
    /// The next notice; `None` when the server closed the stream.
    ///
    /// # Errors
    /// [`ClientError::Unreachable`] when the connection broke, [`ClientError::Unexpected`] for
    /// an event that cannot be read (the stream can still be read on after it).
    pub async fn next(&mut self) -> Option<Result<UpdateNotice>> {
        loop {
            if let Some(end) = find_event_end(&self.pending) {
                let block: Vec<u8> = self.pending.drain(..end + 2).collect();
                match self.read_event(&block) {
                    Some(notice) => return Some(notice),
                    None => continue,
                }
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => self.pending.extend(bytes.iter().filter(|b| **b != b'\r')),
                Ok(None) => return None,
                Err(source) => {
                    return Some(Err(ClientError::Unreachable {
                        url: self.url.clone(),
                        source: source.without_url(),
                    }));
                }
            }
        }
    }

    fn read_event(&self, block: &[u8]) -> Option<Result<UpdateNotice>> {
        let text = String::from_utf8_lossy(block);
        let (mut event, mut data) = ("message", String::new());
        for line in text.lines() {
            if let Some(name) = line.strip_prefix("event:") {
                event = name.trim_start();
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push_str(value.strip_prefix(' ').unwrap_or(value));
            }
        }
        let unexpected = |source| ClientError::Unexpected {
            url: self.url.clone(),
            status: StatusCode::OK,
            source,
        };
        if event == UPDATE_EVENT {
            let update = serde_json::from_str::<OrderUpdate>(&data);
            Some(update.map(UpdateNotice::Update).map_err(unexpected))
        } else if event == LAGGED_EVENT {
            let skipped = serde_json::from_str::<u64>(&data);
            Some(skipped.map(UpdateNotice::Lagged).map_err(unexpected))
        } else {
            None
        }
    }
}

/// Where the first whole event ends: the index of its blank line.
fn find_event_end(pending: &[u8]) -> Option<usize> {
    pending.windows(2).position(|pair| pair == b"\n\n")
}
