//! Sends the notification service's emails over SMTP (`SMTP_URL`), as text with an HTML
//! alternative.
//!
//! The URL says how to connect: `smtps://user:pass@host:465` (TLS from the start),
//! `smtp://host:587?tls=required` (STARTTLS, or fail), `smtp://host:25` (plain, for a
//! server on the same host or a test sink). TLS is rustls with the web's root certificates.
//!
//! A server that cannot be reached or answers 4xx is an outage: the message is retried
//! without end, so an outage loses no email. A 5xx answer refuses this email for good.
//! Every email carries a `Message-ID` made of the message that caused it, so a repeated
//! send (delivery is at least once) is recognisable as the same email.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use store::notification::{EmailSender, Notification, SendError};

/// Longest wait for any one SMTP command's answer.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the mail server is: an `smtp://` or `smtps://` URL, with credentials if it needs
/// them. Its `Debug` and `Display` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl(url::Url);

/// Why a value is not an SMTP URL.
#[derive(Debug, thiserror::Error)]
pub enum SmtpUrlError {
    #[error("not a URL: {0}")]
    Syntax(#[from] url::ParseError),
    #[error("the scheme must be smtp or smtps, not `{0}`")]
    Scheme(String),
    #[error("the URL names no host")]
    NoHost,
}

impl FromStr for SmtpUrl {
    type Err = SmtpUrlError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let url = url::Url::parse(raw)?;
        if !matches!(url.scheme(), "smtp" | "smtps") {
            return Err(SmtpUrlError::Scheme(url.scheme().to_owned()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(SmtpUrlError::NoHost);
        }
        Ok(Self(url))
    }
}

impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.clone();
        if shown.password().is_some() {
            // Cannot fail: the URL has a host, so it can carry a password.
            let _ = shown.set_password(Some("***"));
        }
        write!(f, "{shown}")
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpUrl({self})")
    }
}

/// Why the SMTP sender cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("SMTP URL {url}: {source}")]
    Url {
        url: SmtpUrl,
        #[source]
        source: lettre::transport::smtp::Error,
    },
    #[error("sender address `{0}` is not a mailbox")]
    From(String),
}

/// Sends email through one SMTP server, over a small pool of connections.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// A sender to the server at `url`, sending as `from` (`Name <address>` or an address).
    ///
    /// # Errors
    /// [`SetupError`] when the URL's settings are not usable or `from` is not a mailbox.
    /// Nothing is connected yet: an unreachable server shows at the first send. Call it
    /// within a Tokio runtime (the connection pool runs on it).
    pub fn new(url: &SmtpUrl, from: &str) -> Result<Self, SetupError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.0.as_str())
            .map_err(|source| SetupError::Url {
                url: url.clone(),
                source,
            })?
            .timeout(Some(COMMAND_TIMEOUT))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|_| SetupError::From(from.to_owned()))?;
        Ok(Self { transport, from })
    }
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl EmailSender for SmtpMailer {
    async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        let email = email(&self.from, notification)?;
        self.transport.send(email).await.map(drop).map_err(|error| {
            if error.is_permanent() {
                SendError::Refused(error.to_string())
            } else {
                SendError::Unavailable(error.to_string())
            }
        })
    }
}

/// The email of `notification`, as text with an HTML alternative.
fn email(from: &Mailbox, notification: &Notification) -> Result<lettre::Message, SendError> {
    let to = notification
        .recipient
        .as_str()
        .parse::<Mailbox>()
        .map_err(|error| SendError::Refused(format!("recipient: {error}")))?;
    lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(notification.subject.clone())
        .message_id(Some(format!("<{}@orderflow>", notification.message_id)))
        .multipart(MultiPart::alternative_plain_html(
            notification.body.clone(),
            html(&notification.body),
        ))
        .map_err(|error| SendError::Refused(format!("cannot build the email: {error}")))
}

/// The text body as HTML: one paragraph per blank-line-separated block, its lines kept.
fn html(text: &str) -> String {
    let paragraphs: String = text
        .split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let lines: Vec<String> = block.lines().map(|line| escape(line.trim())).collect();
            format!("<p>{}</p>\n", lines.join("<br>\n"))
        })
        .collect();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n<body>\n{paragraphs}</body></html>\n"
    )
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use contracts::value::{Email, OrderId};
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn only_smtp_urls_with_a_host_are_accepted_and_their_password_is_never_shown() {
        let url: SmtpUrl = "smtps://mailer:s3cret@mail.example.com:465"
            .parse()
            .expect("an SMTP URL");
        assert_eq!(url.to_string(), "smtps://mailer:***@mail.example.com:465");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert!(matches!(
            "https://mail.example.com".parse::<SmtpUrl>(),
            Err(SmtpUrlError::Scheme(_))
        ));
        assert!(matches!(
            "smtp:nohost".parse::<SmtpUrl>(),
            Err(SmtpUrlError::NoHost)
        ));
        assert!(matches!(
            "not a url".parse::<SmtpUrl>(),
            Err(SmtpUrlError::Syntax(_))
        ));
    }

    // The connection pool lives on the runtime: the sender is made inside one.
    #[tokio::test]
    async fn a_sender_address_must_be_a_mailbox() {
        let url: SmtpUrl = "smtp://127.0.0.1:2525".parse().expect("an SMTP URL");
        assert!(SmtpMailer::new(&url, "Orderflow <orders@example.com>").is_ok());
        assert!(matches!(
            SmtpMailer::new(&url, "not an address"),
            Err(SetupError::From(_))
        ));
    }

    #[test]
    fn the_html_alternative_keeps_the_lines_and_escapes_markup() {
        let page = html("Hello,\n\n  1 x <Mouse> & co\nTotal: 25.99 USD.\n\nOrderflow");
        assert!(
            page.contains("<p>1 x &lt;Mouse&gt; &amp; co<br>\nTotal: 25.99 USD.</p>"),
            "{page}"
        );
        assert!(page.contains("<p>Hello,</p>"), "{page}");
        assert!(page.contains("<p>Orderflow</p>"), "{page}");
    }

    #[test]
    fn the_email_is_text_and_html_with_an_id_made_of_its_message() {
        let message_id = Uuid::now_v7();
        let notification = Notification {
            order_id: OrderId::new(Uuid::now_v7()),
            message_id,
            recipient: Email::parse("ada@example.com").expect("a valid email"),
            subject: "Your order is confirmed".into(),
            body: "Hello,\n\nTotal charged: 25.99 USD.".into(),
            sent_at: OffsetDateTime::UNIX_EPOCH,
        };
        let from = "Orderflow <orders@example.com>".parse().expect("a mailbox");
        let raw = String::from_utf8(email(&from, &notification).expect("an email").formatted())
            .expect("utf-8");
        assert!(
            raw.contains(&format!("Message-ID: <{message_id}@orderflow>")),
            "{raw}"
        );
        assert!(raw.contains("To: ada@example.com"), "{raw}");
        assert!(raw.contains("Subject: Your order is confirmed"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("text/plain"), "{raw}");
        assert!(raw.contains("text/html"), "{raw}");
    }
}
