//! The dashboard in a real browser: headless Chromium (Debian's `chromium`),
//! driven through WebDriver (`chromium-driver`) by fantoccini, against a
//! real run of two instances in this process and the real servers.
//!
//! Live: the page waits with the question for the room, its button starts
//! each phase (`--pace`), the numbers move while a phase runs, the verdict
//! board ends equal to the JSON report, and the timeline shows both
//! instances holding at once under `none`, never under a fenced `redis` lock. Then the exported report is
//! opened from a file with the network off and must show the same verdicts.
//! Screenshots go to `target/browser-screenshots/`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{run_args, spawn_instance};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use loadtest::i18n::Lang;
use loadtest::report::Report;
use loadtest::verdict;
use serde_json::json;
use stocklock::config::Config;

/// `chromedriver`, on a free port; killed when dropped, with the browser
/// profiles it was given.
struct Driver {
    child: Child,
    url: String,
    profiles: std::sync::Mutex<Vec<PathBuf>>,
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (Debian's chromium-driver; scripts/test installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profiles: Default::default(),
        }
    }

    /// A headless browser reading English; `offline`: every request outside
    /// the page's own file goes nowhere.
    async fn browser(&self, offline: bool) -> Client {
        self.browser_reading("en-US,en", offline).await
    }

    /// A headless browser whose reader prefers `languages` (the
    /// `Accept-Language` list, which `navigator.languages` reports).
    async fn browser_reading(&self, languages: &str, offline: bool) -> Client {
        let profile =
            std::env::temp_dir().join(format!("stocklock-chromium-{}", uuid::Uuid::new_v4().simple()));
        self.profiles.lock().unwrap().push(profile.clone());
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--window-size=1600,1300".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        if offline {
            args.push("--proxy-server=127.0.0.1:9".into());
            args.push("--proxy-bypass-list=<-loopback>".into());
            args.push("--host-resolver-rules=MAP * ~NOTFOUND".into());
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": args,
                "prefs": { "intl": { "accept_languages": languages } },
            }),
        );
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A closed session has ended its browser already; after a failed
        // assertion the browser would outlive the test. Each is found by
        // its profile, which is ours alone.
        for profile in self.profiles.lock().unwrap().drain(..) {
            let _ = Command::new("pkill")
                .arg("-f")
                .arg(format!("user-data-dir={}", profile.display()))
                .status();
            let _ = std::fs::remove_dir_all(profile);
        }
    }
}

async fn text(browser: &Client, id: &str) -> String {
    browser.find(Locator::Id(id)).await.unwrap().text().await.unwrap()
}

/// Polls `check` every 100 ms for up to `seconds`.
async fn eventually<F, Fut>(seconds: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The verdict column of the board, row by row — read in one go inside the
/// page: the board is redrawn as events arrive, and rows found in one call
/// could be gone by the next.
async fn board(browser: &Client) -> Vec<String> {
    let rows = browser
        .execute(
            "return [...document.querySelectorAll('#board tr[data-phase]')].map(r => r.dataset.verdict)",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(rows).expect("a list of verdicts")
}

/// The timeline's lanes of phase `index` (shown by clicking its row of the
/// board): per instance, its holds and how many of them overlapped another.
async fn lanes(browser: &Client, index: usize) -> Vec<(String, u64, u64)> {
    let lanes = browser
        .execute(
            "document.querySelector(`#board tr[data-phase='${arguments[0]}']`).click();
             return [...document.querySelectorAll('#timeline-lanes li')]
                 .map(l => [l.dataset.instance, +l.dataset.sections, +l.dataset.overlapping])",
            vec![json!(index)],
        )
        .await
        .unwrap();
    serde_json::from_value(lanes).expect("a list of lanes")
}

/// The overview is on show, with a line per phase and a bar of each cost
/// per phase, as the report says; the arrow keys move to the first phase
/// and back.
async fn assert_overview(browser: &Client, report: &Report) {
    let shown = browser
        .execute(
            "return [!document.getElementById('overview').hidden,
                     +document.getElementById('chart-overview').dataset.series,
                     [...document.querySelectorAll('#costs tr[data-phase] td.rate .figure')].map(f => f.textContent)]",
            vec![],
        )
        .await
        .unwrap();
    let rates: Vec<String> = report
        .phases
        .iter()
        .map(|p| format!("{}", p.orders_per_s.round() as i64))
        .collect();
    assert_eq!(shown, json!([true, report.phases.len(), rates]), "the overview");
    let views = browser
        .execute(
            "const key = (k) => document.dispatchEvent(new KeyboardEvent('keydown', { key: k }));
             key('ArrowRight'); const first = document.getElementById('phase-title').textContent;
             const overview = document.getElementById('overview').hidden;
             key('ArrowLeft'); return [first, overview, document.getElementById('overview').hidden];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        views,
        json!([report.phases[0].label_i18n.get(Lang::En).unwrap(), true, false]),
        "← → between views"
    );
}

/// ▶ plays the report back: the run starts over and its numbers move.
async fn assert_playback_moves_the_numbers(browser: &Client) {
    browser
        .find(Locator::Id("play"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(6);
    while Instant::now() < deadline && seen.len() < 3 {
        seen.insert(text(browser, "sold").await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen.len() >= 3,
        "the numbers did not move in the playback: {seen:?}"
    );
    assert_eq!(text(browser, "play").await, "⏸ Pause");
    browser
        .find(Locator::Id("play"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// In projector mode at 1280×720 (the inside of the window), the header,
/// the big numbers, the main chart and the verdict board are all in view.
async fn assert_projector_fits(browser: &Client, url: &str) {
    browser.set_window_size(1280, 720).await.unwrap();
    let inner: (u32, u32) = serde_json::from_value(
        browser
            .execute("return [innerWidth, innerHeight]", vec![])
            .await
            .unwrap(),
    )
    .unwrap();
    // The window's frame, if any, is added so that the inside is 1280×720.
    browser
        .set_window_size(1280 + (1280 - inner.0), 720 + (720 - inner.1))
        .await
        .unwrap();
    browser.goto(url).await.unwrap();
    eventually(20, "the projector page shows its board", || async {
        board(browser).await.iter().all(|v| !v.is_empty())
    })
    .await;
    let outside = browser
        .execute(
            "return ['header', '#numbers', '#chart-units', '#board', '#phase-title'].filter((css) => {
                 const r = document.querySelector(css).getBoundingClientRect();
                 return !(r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth);
             }).concat(innerWidth === 1280 && innerHeight === 720 ? [] : [`window ${innerWidth}×${innerHeight}`])",
            vec![],
        )
        .await
        .unwrap();
    screenshot(browser, "report-projector-1280x720.png").await;
    assert_eq!(outside, json!([]), "not inside 1280×720 in projector mode");
}

/// `none` on two instances: both lanes hold overlapping sections; the
/// lock that holds (`redis`, fenced by default): none, and every sale is a bar.
async fn assert_timelines(browser: &Client, report: &Report) {
    let none = lanes(browser, 0).await;
    assert_eq!(none.len(), 2, "one lane per instance: {none:?}");
    assert!(
        none.iter().all(|(_, _, overlapping)| *overlapping > 0),
        "{none:?}"
    );
    assert!(report.phases[1].settings.fencing, "the second phase is fenced");
    let locked = lanes(browser, 1).await;
    assert_eq!(locked.len(), 2, "{locked:?}");
    assert!(
        locked.iter().all(|(_, _, overlapping)| *overlapping == 0),
        "{locked:?}"
    );
    let bars: u64 = locked.iter().map(|(_, sections, _)| sections).sum();
    assert_eq!(bars as i64, report.phases[1].ledger.orders, "one bar per order");
}

async fn screenshot(browser: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.expect("a screenshot");
    std::fs::write(dir.join(name), png).unwrap();
}

/// Waits until phase `index` waits for the instructor, checks that the page
/// says what comes next and what to ask, and presses the button.
async fn start_phase(browser: &Client, index: usize, label: &str) {
    eventually(30, &format!("phase {index} waits"), || async {
        text(browser, "status")
            .await
            .contains("waiting for the instructor")
    })
    .await;
    assert_eq!(text(browser, "next-label").await, label);
    assert!(text(browser, "next-question").await.ends_with('?'));
    browser
        .find(Locator::Id("go"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_dashboard_shows_the_run_live_and_the_report_replays_it_offline() {
    let (first, second) = (spawn_instance().await, spawn_instance().await);
    let dashboard_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let argv = [
        "loadtest".to_owned(),
        "run".into(),
        "--no-progress".into(),
        "--backends".into(),
        "none,redis".into(),
        "--stock".into(),
        "60".into(),
        "--buyers".into(),
        "16".into(),
        "--critical-section-ms".into(),
        "40".into(),
        "--targets".into(),
        format!("{},{}", first.address, second.address),
        "--sku-prefix".into(),
        format!("dashboard-{}", uuid::Uuid::new_v4().simple()),
        "--database-url".into(),
        Config::defaults().database_url,
        "--dashboard".into(),
        format!("127.0.0.1:{dashboard_port}"),
        "--pace".into(),
    ];
    let args = run_args(argv);
    let run = tokio::spawn(async move { loadtest::run_with_events(&args).await });

    let driver = Driver::start();
    let browser = driver.browser(false).await;
    let url = format!("http://127.0.0.1:{dashboard_port}/");
    eventually(20, "the dashboard answers", || async {
        browser.goto(&url).await.is_ok()
    })
    .await;

    start_phase(&browser, 0, "none").await;
    // The numbers move while the phase runs.
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while board(&browser).await[0].is_empty() {
        assert!(Instant::now() < deadline, "the first phase was never judged");
        seen.insert(text(&browser, "sold").await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen.len() >= 3,
        "units sold did not move while the phase ran: {seen:?}"
    );
    screenshot(&browser, "live-after-first-phase.png").await;
    start_phase(&browser, 1, "redis").await;
    eventually(60, "the run is finished", || async {
        text(&browser, "status").await.contains("finished")
    })
    .await;
    screenshot(&browser, "live-finished.png").await;

    let (report, events) = run.await.unwrap().expect("the run completes");
    let expected = verdicts(&report);
    assert_eq!(
        board(&browser).await,
        expected,
        "the live board is not the report's"
    );
    assert!(
        expected[0].starts_with("❌ oversold"),
        "none must oversell: {expected:?}"
    );
    assert_timelines(&browser, &report).await;
    screenshot(&browser, "live-timeline-redis.png").await;
    browser.close().await.unwrap();

    let file = std::env::temp_dir().join(format!("stocklock-report-{}.html", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, loadtest::dashboard::page::replay(&events.history())).unwrap();
    let offline = driver.browser(true).await;
    offline.goto(&format!("file://{}", file.display())).await.unwrap();
    eventually(20, "the report shows its verdicts", || async {
        board(&offline).await.iter().all(|v| !v.is_empty())
    })
    .await;
    assert_eq!(
        board(&offline).await,
        expected,
        "the report's board is not the report's"
    );
    assert!(text(&offline, "status").await.starts_with("replay"));
    // uPlot ran from inside the page: its charts are there.
    assert_eq!(offline.find_all(Locator::Css(".uplot")).await.unwrap().len(), 4);
    assert_overview(&offline, &report).await;
    screenshot(&offline, "report-overview.png").await;
    assert_timelines(&offline, &report).await;
    screenshot(&offline, "report-offline.png").await;
    assert_playback_moves_the_numbers(&offline).await;
    assert_projector_fits(&offline, &format!("file://{}?projector#phase-1", file.display())).await;
    offline.close().await.unwrap();
    assert_chinese(&driver, &format!("file://{}", file.display()), &report).await;
    let _ = std::fs::remove_file(file);
}

fn verdicts(report: &Report) -> Vec<String> {
    verdicts_in(report, Lang::En)
}

fn verdicts_in(report: &Report, lang: Lang) -> Vec<String> {
    report
        .phases
        .iter()
        .map(|p| verdict::label(&p.verdict, &p.assessment).text(lang))
        .collect()
}

/// The report opened by a reader whose browser prefers Chinese: the page
/// speaks Chinese without being asked, its board and its `why`s are the
/// JSON report's in Chinese, no English is left but names and code, and
/// its Chinese is drawn with a real font (each character its own glyph,
/// none the "missing glyph" box). `?lang=en` brings English back.
async fn assert_chinese(driver: &Driver, file: &str, report: &Report) {
    let browser = driver.browser_reading("zh-CN,zh", true).await;
    browser.goto(file).await.unwrap();
    eventually(20, "the Chinese report shows its verdicts", || async {
        board(&browser).await.iter().all(|v| !v.is_empty())
    })
    .await;
    assert_eq!(
        board(&browser).await,
        verdicts_in(report, Lang::ZhCn),
        "the Chinese board"
    );
    let whys: Vec<String> = report
        .phases
        .iter()
        .filter_map(|p| {
            let why = p.why_i18n.as_ref()?.get(Lang::ZhCn)?;
            Some(format!("{}：{why}", p.label_i18n.get(Lang::ZhCn).unwrap()))
        })
        .collect();
    let shown = browser
        .execute(
            "return [document.documentElement.lang,
                     [...document.querySelectorAll('#whys li')].map(li => li.textContent)]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(shown, json!(["zh-CN", whys]), "the Chinese page and its whys");
    assert!(!whys.is_empty(), "none oversold: it has a why");

    let english = browser
        .execute(
            "const names = new Set(['stocklock', 'none', 'local', 'redis', 'etcd', 'postgres', 'PostgreSQL',
                 'redlock', 'atomic', 'batch', 'basic', 'p50', 'p99', 'lock_lost', 'SKU', 'TTL']);
             const instances = [...document.querySelectorAll('#timeline-lanes li')].map(l => l.dataset.instance);
             const english = [];
             for (const view of ['ArrowRight', 'ArrowRight']) {
                 let text = document.body.innerText;
                 for (const name of instances) text = text.split(name).join(' ');
                 english.push(...(text.match(/[A-Za-z][A-Za-z_]+/g) || []).filter(w => !names.has(w)));
                 document.dispatchEvent(new KeyboardEvent('keydown', { key: view }));
             }
             return english;",
            vec![],
        )
        .await
        .unwrap();
    screenshot(&browser, "report-zh-CN.png").await;
    assert_eq!(english, json!([]), "English left on the Chinese page");

    let glyphs = browser
        .execute(
            "const canvas = document.createElement('canvas');
             canvas.width = canvas.height = 48;
             const ctx = canvas.getContext('2d');
             const draw = (ch) => {
                 ctx.clearRect(0, 0, 48, 48);
                 ctx.font = '40px ' + FONTS;
                 ctx.fillText(ch, 2, 40);
                 return ctx.getImageData(0, 0, 48, 48).data.join('');
             };
             const missing = draw('\u{E000}'), blank = draw(' ');
             const drawn = [...'超卖分布式锁租约续期围栏令牌脑裂'].map(draw);
             return [drawn.filter(d => d === missing || d === blank).length, new Set(drawn).size, drawn.length];",
            vec![],
        )
        .await
        .unwrap();
    let (missing, distinct, drawn): (usize, usize, usize) = serde_json::from_value(glyphs).unwrap();
    assert_eq!(missing, 0, "characters drawn as the missing glyph or nothing");
    assert!(
        distinct >= drawn - 2,
        "{distinct} distinct glyphs for {drawn} characters: boxes?"
    );

    browser.goto(&format!("{file}?lang=en")).await.unwrap();
    eventually(20, "?lang=en speaks English", || async {
        board(&browser).await == verdicts(report)
    })
    .await;
    browser.close().await.unwrap();
}

/// One tab for the whole session: a page opened on one run follows the next
/// run served on the same address — its title, its phases — without being
/// reloaded. The runs are the `loadtest` binary, one after the other, as
/// `loadtest/workshop --lesson N` runs them.
#[tokio::test]
async fn an_open_tab_follows_the_next_run_without_a_reload() {
    let (first, second) = (spawn_instance().await, spawn_instance().await);
    let targets = format!("{},{}", first.address, second.address);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let prefix = format!("follow-{}", uuid::Uuid::new_v4().simple());
    let run = |title: &str| {
        Command::new(env!("CARGO_BIN_EXE_loadtest"))
            .args([
                "run",
                "--no-progress",
                "--backends",
                "atomic",
                "--stock",
                "20",
                "--buyers",
                "4",
            ])
            .args(["--critical-section-ms", "0", "--pace", "--title", title])
            .args(["--targets", &targets, "--sku-prefix", &prefix])
            .args(["--dashboard", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the loadtest binary runs")
    };
    let finished =
        |mut child: Child| tokio::task::spawn_blocking(move || child.wait().expect("the run ends").success());

    let lesson_a = run("Lesson A");
    let driver = Driver::start();
    let browser = driver.browser(false).await;
    let url = format!("http://127.0.0.1:{port}/");
    eventually(20, "the dashboard answers", || async {
        browser.goto(&url).await.is_ok()
    })
    .await;
    start_phase(&browser, 0, "atomic").await;
    assert!(text(&browser, "run").await.starts_with("Lesson A"));
    browser.execute("window.sameTab = true", vec![]).await.unwrap();
    assert!(finished(lesson_a).await.unwrap(), "the first run failed");

    let lesson_b = run("Lesson B");
    eventually(20, "the tab follows the next run", || async {
        text(&browser, "run").await.starts_with("Lesson B")
    })
    .await;
    start_phase(&browser, 0, "atomic").await;
    eventually(30, "the next run is finished", || async {
        text(&browser, "status").await.contains("finished")
    })
    .await;
    let same = browser
        .execute("return window.sameTab === true", vec![])
        .await
        .unwrap();
    assert_eq!(same, json!(true), "the page was reloaded");
    screenshot(&browser, "live-followed-the-next-run.png").await;
    assert!(finished(lesson_b).await.unwrap(), "the next run failed");
    browser.close().await.unwrap();
}

/// Faults are drawn as bands from start to end: a pause for its length, a
/// killed server until it is started again, a partition still open at the
/// end of the phase to the end. Read from the list that says it in words.
#[tokio::test]
async fn faults_are_bands_from_their_start_to_their_end() {
    use loadtest::events::{Event, PlannedPhase};
    use loadtest::i18n::Msg;
    use loadtest::verdict::Expectation;
    use stocklock_api::Backend;

    let fault = |t: f64, kind: &str, duration_s: Option<f64>| Event::Fault {
        phase: 0,
        t,
        kind: kind.into(),
        duration_s,
    };
    let label = Msg::new("phase-killed").arg("backend", "redis");
    let question = Msg::new("q-killed");
    let tick = |i: i64| {
        Event::Tick(loadtest::events::Tick {
            phase: 0,
            t: i as f64 / 2.0,
            sold: i.min(10),
            stock: 10 - i.min(10),
            oversold: 0,
            overlaps: 0,
            orders_per_s: 2.0,
            sold_out_per_s: 0.0,
            lock_lost_per_s: 0.0,
            unavailable_per_s: 0.0,
            p50_ms: Some(20.0),
            p99_ms: Some(40.0),
        })
    };
    let mut events = vec![
        Event::Run {
            format_version: loadtest::report::model::FORMAT_VERSION,
            scenario: "kill-redis".into(),
            model: "closed model, 8 buyers".into(),
            model_i18n: Msg::new("model-closed").arg("buyers", 8).every(),
            targets: vec!["http://127.0.0.1:1".into()],
            phases: vec![PlannedPhase {
                label: label.to_string(),
                label_i18n: label.every(),
                backend: Backend::Redis,
                expectation: Expectation::MustBeSafe,
                stock: 10,
                question: question.to_string(),
                question_i18n: question.every(),
            }],
            paced: false,
            title: None,
            lang: None,
        },
        Event::Phase { phase: 0 },
        fault(0.5, "pause_holder", Some(0.8)),
        fault(1.0, "kill_redis", None),
        fault(3.0, "start_redis", None),
        fault(4.0, "partition_primary_i1", None),
    ];
    events.extend((1..=10).map(tick));
    let file = std::env::temp_dir().join(format!("stocklock-bands-{}.html", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, loadtest::dashboard::page::replay(&events)).unwrap();
    let driver = Driver::start();
    let browser = driver.browser(true).await;
    browser
        .goto(&format!("file://{}#phase-1", file.display()))
        .await
        .unwrap();
    let bands = browser
        .execute(
            "return [...document.querySelectorAll('#fault-bands li')]
                 .map(li => [li.dataset.kind, li.dataset.start, li.dataset.end, li.textContent])",
            vec![],
        )
        .await
        .unwrap();
    screenshot(&browser, "report-fault-bands.png").await;
    assert_eq!(
        bands,
        json!([
            ["pause_holder", "0.5", "1.3", "⚡ pause a holder: 0.5–1.3 s"],
            ["kill_redis", "1", "3", "⚡ kill redis: 1.0–3.0 s"],
            [
                "partition_primary_i1",
                "4",
                "",
                "⚡ cut off primary i1: from 4.0 s to the end of the phase"
            ],
        ]),
        "the faults' bands"
    );
    browser.close().await.unwrap();
    let _ = std::fs::remove_file(file);
}
