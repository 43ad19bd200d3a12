//! Real email: the embedded system sends its customer emails over SMTP to a real mail server
//! (aiosmtpd, started by `scripts/smtp-sink`, storing what it receives in a Maildir), and an
//! outage of that server loses no email.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

/// The mail server, stopped when dropped.
struct SmtpSink {
    port: u16,
    maildir: PathBuf,
    child: Option<Child>,
}

impl SmtpSink {
    /// A port and a Maildir for a sink that is not running yet.
    fn reserve(root: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        Self {
            port,
            maildir: root.join("maildir"),
            child: None,
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Starts the server and waits until it answers (the first start installs aiosmtpd).
    async fn start(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp-sink");
        let child = Command::new(script)
            .arg(self.port.to_string())
            .arg(&self.maildir)
            .stdout(Stdio::null())
            .spawn()
            .expect("start scripts/smtp-sink");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the SMTP sink did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every email received, read by Python's own email parser: headers and the decoded text
    /// and HTML parts.
    fn received(&self) -> Vec<Value> {
        let new = self.maildir.join("new");
        let Ok(entries) = std::fs::read_dir(&new) else {
            return Vec::new();
        };
        let mut emails = Vec::new();
        for entry in entries {
            let path = entry.expect("a maildir entry").path();
            let output = Command::new("python3")
                .arg("-c")
                .arg(READ_EMAIL)
                .arg(&path)
                .output()
                .expect("run python3");
            assert!(output.status.success(), "{output:?}");
            emails.push(serde_json::from_slice(&output.stdout).expect("the email as JSON"));
        }
        emails
    }

    /// The emails received for `order_id`, once at least `count` arrived (or the patience ran out).
    async fn wait_for(&self, order_ids: &[&str], patience: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let emails: Vec<Value> = self
                .received()
                .into_iter()
                .filter(|email| {
                    order_ids
                        .iter()
                        .any(|id| email["subject"].as_str().is_some_and(|s| s.contains(id)))
                })
                .collect();
            if emails.len() >= order_ids.len() || tokio::time::Instant::now() >= deadline {
                return emails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

const READ_EMAIL: &str = r#"
import email, email.policy, json, sys
with open(sys.argv[1], "rb") as f:
    message = email.message_from_binary_file(f, policy=email.policy.default)
text = message.get_body(preferencelist=("plain",))
html = message.get_body(preferencelist=("html",))
print(json.dumps({
    "to": message["To"], "from": message["From"], "subject": message["Subject"],
    "message_id": message["Message-ID"],
    "text": text.get_content() if text else None,
    "html": html.get_content() if html else None,
}))
"#;

async fn spawn_with_smtp(sink: &SmtpSink) -> TestApp {
    let url = sink.url().parse().expect("an SMTP URL");
    spawn_app_with(|config| config.settings.smtp_url = Some(url)).await
}

async fn place_two_lines(app: &TestApp, email: &str) -> String {
    app.place_accepted(&json!({
        "customer_email": email,
        "items": [
            {"product_id": "product-002", "quantity": 3},
            {"product_id": "product-003", "quantity": 1}
        ]
    }))
    .await
}

#[tokio::test]
async fn a_completed_order_s_confirmation_arrives_by_smtp_with_its_lines_and_total() {
    let root = tempfile::tempdir().expect("temp dir");
    let mut sink = SmtpSink::reserve(root.path());
    sink.start().await;
    let app = spawn_with_smtp(&sink).await;

    let id = place_two_lines(&app, "ada@example.com").await;
    let order = app.wait_until_terminal(&id, Duration::from_secs(20)).await;
    assert_eq!(order["status"], "COMPLETED", "{order}");

    let emails = sink.wait_for(&[&id], Duration::from_secs(20)).await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    let email = &emails[0];
    assert_eq!(email["to"], "ada@example.com");
    assert_eq!(email["subject"], format!("Your order {id} is confirmed"));
    let text = email["text"].as_str().expect("a text part");
    // 3 mice at 25.99 and a keyboard at 79.99: 157.96.
    assert!(
        text.contains("3 x Mouse (product-002) at 25.99 USD: 77.97 USD"),
        "{text}"
    );
    assert!(
        text.contains("1 x Keyboard (product-003) at 79.99 USD: 79.99 USD"),
        "{text}"
    );
    assert!(text.contains("Total charged: 157.96 USD."), "{text}");
    let html = email["html"].as_str().expect("an HTML part");
    assert!(html.contains("Total charged: 157.96 USD."), "{html}");
    assert_eq!(app.notifications_for(&id).await.len(), 1);
}

#[tokio::test]
async fn a_mail_server_down_for_20_s_loses_no_email_and_sends_none_twice() {
    let root = tempfile::tempdir().expect("temp dir");
    let mut sink = SmtpSink::reserve(root.path());
    sink.start().await;
    let app = spawn_with_smtp(&sink).await;
    let before = place_two_lines(&app, "before@example.com").await;
    assert_eq!(
        sink.wait_for(&[&before], Duration::from_secs(20))
            .await
            .len(),
        1
    );

    sink.stop();
    let mut during = Vec::new();
    for customer in ["one", "two", "three"] {
        let id = place_two_lines(&app, &format!("{customer}@example.com")).await;
        let order = app.wait_until_terminal(&id, Duration::from_secs(20)).await;
        assert_eq!(order["status"], "COMPLETED", "{order}");
        during.push(id);
    }
    tokio::time::sleep(Duration::from_secs(20)).await;
    for id in &during {
        assert!(
            app.notifications_for(id).await.is_empty(),
            "no email can have been sent while the server was down"
        );
    }
    sink.start().await;

    let ids: Vec<&str> = during.iter().map(String::as_str).collect();
    let emails = sink.wait_for(&ids, Duration::from_secs(30)).await;
    assert_eq!(emails.len(), 3, "{emails:?}");
    for id in &during {
        assert_eq!(
            emails
                .iter()
                .filter(|email| email["subject"]
                    .as_str()
                    .is_some_and(|subject| subject.contains(id.as_str())))
                .count(),
            1,
            "one email for {id}"
        );
        assert_eq!(app.notifications_for(id).await.len(), 1);
    }
    // Nothing more arrives later: the outage's retries did not queue a second copy.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.received().len(), 4);
}
