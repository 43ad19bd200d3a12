//! A real headless Chromium driven over WebDriver: Debian's `chromium` and `chromedriver`
//! (installed by `scripts/ensure-browser` when missing), a chromedriver started on a free port
//! and stopped at the end, and waits that poll the page until a condition holds or a deadline
//! passes, never a fixed sleep.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::time::Instant;

/// How long a wait for the page gives by default.
pub(crate) const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Installs Chromium and ChromeDriver if they are missing (quiet when present).
pub(crate) fn ensure_browser() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ensure-browser");
    let status = Command::new(&script)
        .status()
        .unwrap_or_else(|error| panic!("run {}: {error}", script.display()));
    assert!(status.success(), "{} failed: {status}", script.display());
}

/// A chromedriver of this test's own, killed when dropped.
pub(crate) struct Driver {
    child: Child,
    pub(crate) url: String,
}

impl Driver {
    pub(crate) async fn start() -> Driver {
        // A port the OS says is free now; chromedriver binds it a moment later.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("chromedriver")
            .args([
                format!("--port={port}"),
                "--allowed-ips=127.0.0.1".to_owned(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        orderflow::tls::install_crypto_provider();
        let status = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = status
                .get(format!("{}/status", driver.url))
                .send()
                .await
                .ok()
                .filter(|answer| answer.status().is_success());
            if let Some(answer) = ready {
                let body: Value = answer.json().await.unwrap_or(Value::Null);
                if body["value"]["ready"] == true {
                    return driver;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready on {}",
                driver.url
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One headless browser session.
pub(crate) struct Browser {
    pub(crate) client: Client,
    screenshots: PathBuf,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub(crate) async fn open(driver: &Driver, screenshots: PathBuf) -> Browser {
        let profile = tempfile::tempdir().expect("a browser profile dir");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-extensions",
                    "--window-size=1440,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("an object")
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .expect("a browser session");
        std::fs::create_dir_all(&screenshots).expect("the screenshot dir");
        Browser {
            client,
            screenshots,
            _profile: profile,
        }
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// Runs `script` (a function body: `return ...`) in the page.
    pub(crate) async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|error| panic!("script failed: {error}\n{script}"))
    }

    /// Waits until the page follows the live updates stream (`what` says whose), then marks
    /// the page (`window.dashboardProbe`), which survives only if it is not loaded again.
    pub(crate) async fn until_live(&self, what: &str) {
        self.until(
            what,
            PAGE_TIMEOUT,
            "return document.body.dataset.live === 'live';",
            vec![],
        )
        .await;
        self.js("window.dashboardProbe = 'same page'; return true;", vec![])
            .await;
    }

    /// Waits until `script` returns a truthy value, then returns it; fails after `timeout`
    /// with `what`, the page's flash message and its address.
    pub(crate) async fn until(
        &self,
        what: &str,
        timeout: Duration,
        script: &str,
        args: Vec<Value>,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.js(script, args.clone()).await;
            if !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!("")
                && value != json!(0)
            {
                return value;
            }
            if Instant::now() > deadline {
                let flash = self
                    .js("const f = document.querySelector('#flash'); return f && !f.hidden ? f.textContent : '';", vec![])
                    .await;
                let url = self
                    .client
                    .current_url()
                    .await
                    .map(|u| u.to_string())
                    .unwrap_or_default();
                panic!("waited {timeout:?} for {what}; page {url}, flash {flash}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for an element that `css` selects and is displayed.
    pub(crate) async fn element(&self, css: &str) -> Element {
        self.until(
            &format!("an element `{css}`"),
            PAGE_TIMEOUT,
            "const e = document.querySelector(arguments[0]); return !!e && e.getClientRects().length > 0;",
            vec![json!(css)],
        )
        .await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("find `{css}`: {error}"))
    }

    pub(crate) async fn click(&self, css: &str) {
        self.element(css)
            .await
            .click()
            .await
            .unwrap_or_else(|error| panic!("click `{css}`: {error}"));
    }

    /// Waits until the text of the element `css` selects contains `text`.
    pub(crate) async fn text_in(&self, css: &str, text: &str, timeout: Duration) {
        self.until(
            &format!("`{text}` in `{css}`"),
            timeout,
            "const e = document.querySelector(arguments[0]); return !!e && e.textContent.includes(arguments[1]);",
            vec![json!(css), json!(text)],
        )
        .await;
    }

    /// Saves a PNG of the window as `<name>.png` in the screenshot dir.
    pub(crate) async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = self.screenshots.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        eprintln!("screenshot: {}", path.display());
    }

    pub(crate) async fn close(self) {
        let _ = self.client.close().await;
    }
}
