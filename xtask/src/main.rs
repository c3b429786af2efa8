//! `cargo xtask <command>`: the project's own set-up and build automation, so a fresh machine needs
//! nothing hand-installed.
//!
//! - `setup` — install what is missing (idempotent, quick when already done): Debian's wasm-capable
//!   Rust + std sources + lld, Chromium + ChromeDriver, PostgreSQL; wasm-bindgen-cli at exactly the
//!   version in Cargo.lock; Trunk 0.21; a Python venv with the OpenTelemetry SDK for ingest tests.
//! - `build`  — `setup`, then build the app with Trunk (release) into `dist/`.
//! - `run`    — `build`, then start `sightline serve --demo` (extra arguments are passed on).
//! - `test`   — `build`, then clippy (`-D warnings`, every crate) and every test: host unit/integration/E2E
//!   tests and wasm tests in Chromium.
//! - `bench`  — criterion benchmarks of the server, then the in-browser benchmarks of the app.
//! - `screenshots` — regenerate docs/screenshot-*.png from the running demo.
//! - `soak [--spans-per-sec N] [--minutes M] [--seed-transactions N] [-- server args]` — the real server
//!   (`server` profile) under OTLP load with its RSS sampled and a kill -9 at the midpoint, then checks that
//!   every acknowledged transaction is stored; also times restarts (see `crates/server/examples/soak.rs`).
//!   Not part of `test`.
//! - `fuzz [--runs N] [target…]` — install cargo-fuzz (first time only), then run each fuzz target of fuzz/
//!   for N inputs (default 1 000 000) and minimise its corpus; see docs/FUZZING.md.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{exit, Command, Stdio};
use std::time::Instant;

const TRUNK_VERSION: &str = "0.21";
/// Splits the app's wasm into the main module and the pages loaded on first visit (`build_app`).
const WASM_SPLIT: &str = "wasm_split_cli_support";
const WASM_SPLIT_VERSION: &str = "0.2.4";
const APT_PACKAGES: &[&str] = &["chromium", "chromium-driver", "postgresql", "brotli", "clickhouse-server", "zookeeper"];
/// Debian's wasm-capable Rust, needed only when rustup cannot add the wasm target (no network to its
/// dist server): std is then built from these sources.
const APT_WASM_PACKAGES: &[&str] = &["rustc-web", "cargo-web", "rust-web-src", "lld-22"];
const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// How long `rustup target add` may try before we fall back to Debian's toolchain.
const RUSTUP_TIMEOUT_SECS: &str = "20";
/// Pinned, so a new release cannot change what the tests exercise; raise them together.
const PY_PACKAGES: &[&str] = &[
    "opentelemetry-sdk==1.45.2",
    "opentelemetry-exporter-otlp-proto-http==1.45.2",
    "opentelemetry-exporter-otlp-proto-grpc==1.45.2",
];

type Result<T = ()> = std::result::Result<T, String>;

fn main() {
    let mut args = env::args().skip(1);
    let cmd = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let started = Instant::now();
    let result = match cmd.as_str() {
        "setup" => setup(),
        "build" => setup().and_then(|_| build_app()),
        "run" => setup().and_then(|_| build_app()).and_then(|_| run(&rest)),
        "test" => setup().and_then(|_| build_app()).and_then(|_| test(&rest)),
        "bench" => setup().and_then(|_| build_app()).and_then(|_| bench(&rest)),
        "screenshots" => setup().and_then(|_| build_app()).and_then(|_| screenshots()),
        "fuzz" => fuzz(&rest),
        "soak" => soak(&rest),
        _ => {
            eprintln!("usage: cargo xtask <setup|build|run|test|bench|screenshots|fuzz|soak> [args]");
            exit(2);
        }
    };
    match result {
        Ok(()) => eprintln!("xtask {cmd}: done in {:.0?}", started.elapsed()),
        Err(e) => {
            eprintln!("xtask {cmd}: FAILED: {e}");
            exit(1);
        }
    }
}

/// The repository root (the directory of the workspace Cargo.toml).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the repo").to_path_buf()
}

/// Project-local install root for tools we build (`.tools/bin`).
fn tools() -> PathBuf {
    root().join(".tools")
}

fn step(msg: &str) {
    eprintln!("==> {msg}");
}

fn run_cmd(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}");
    let status = cmd.status().map_err(|e| format!("cannot start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} exited with {status}"))
    }
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).map(|s| s.trim() == "0").unwrap_or(false)
}

/// `apt-get …` as root, or through sudo.
fn apt(args: &[&str]) -> Command {
    let mut c = if is_root() {
        Command::new("apt-get")
    } else {
        let mut c = Command::new("sudo");
        c.arg("apt-get");
        c
    };
    c.env("DEBIAN_FRONTEND", "noninteractive").args(args);
    c
}

// ---------------------------------------------------------------- setup

fn setup() -> Result {
    let t = Instant::now();
    let mut packages = APT_PACKAGES.to_vec();
    if !rustup_wasm_target() {
        packages.extend(APT_WASM_PACKAGES);
    }
    apt_packages(&packages)?;
    node_service()?;
    // The two cargo installs are independent: run them side by side.
    let wbg = wasm_bindgen_version()?;
    let mut jobs = Vec::new();
    if !tool_has_version("wasm-bindgen", &wbg) {
        step(&format!("installing wasm-bindgen-cli {wbg} (first time only, ~6 min)"));
        jobs.push(cargo_install(&["wasm-bindgen-cli", "--version", &wbg])?);
    }
    if !tool_has_version("trunk", &format!("trunk {TRUNK_VERSION}")) {
        step(&format!("installing trunk {TRUNK_VERSION} (first time only, ~5 min)"));
        jobs.push(cargo_install(&["trunk", "--version", &format!("~{TRUNK_VERSION}"), "--locked"])?);
    }
    if !tool_installed(WASM_SPLIT, WASM_SPLIT_VERSION) {
        step(&format!("installing {WASM_SPLIT} {WASM_SPLIT_VERSION} (first time only, ~2 min)"));
        jobs.push(cargo_install(&[WASM_SPLIT, "--version", &format!("={WASM_SPLIT_VERSION}"), "--features", "build-binary", "--locked"])?);
    }
    let jobs_empty = jobs.is_empty();
    for (name, mut child) in jobs {
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("installing {name} failed ({status})"));
        }
    }
    if !jobs_empty {
        // The installs' intermediate build (~2 GB) is not needed once the binaries are in .tools/bin.
        if let Err(e) = std::fs::remove_dir_all(tools().join("build")) {
            eprintln!("warning: could not remove .tools/build ({e}); it only takes disk space");
        }
    }
    step(&format!("set-up complete in {:.0?}", t.elapsed()));
    Ok(())
}

/// Node.js + npm and the npm packages of the tests' instrumented Node service
/// (`crates/server/tests/node_service`, pinned by its package-lock.json). Debian's `nodejs`/`npm` only when
/// `node`/`npm` are missing (a newer Node from elsewhere is kept); `npm ci` only when `node_modules` was
/// not installed from exactly this lock file (a copy of it is kept in `node_modules` as the stamp), so a
/// run with nothing to do only asks `node --version`.
fn node_service() -> Result {
    let has = |bin: &str| output(Command::new(bin).arg("--version"));
    if has("node").is_none() {
        apt_packages(&["nodejs", "npm"])?;
    }
    // The OpenTelemetry JS packages pinned there need Node ^18.19 or >= 20.6 (Debian 12 has 18.20).
    let version = has("node").ok_or("`node --version` fails even after installing Debian's nodejs")?;
    let version = version.trim();
    let mut parts = version.trim_start_matches('v').split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if major < 18 || (major == 18 && minor < 19) || (major == 20 && minor < 6) {
        return Err(format!("Node.js {version} is too old for the test service's OpenTelemetry packages (need ^18.19 or >= 20.6)"));
    }
    let dir = root().join("crates/server/tests/node_service");
    let lock = std::fs::read(dir.join("package-lock.json")).map_err(|e| format!("{}/package-lock.json: {e}", dir.display()))?;
    let stamp = dir.join("node_modules/.sightline-installed-lock.json");
    if std::fs::read(&stamp).is_ok_and(|s| s == lock) {
        return Ok(());
    }
    if has("npm").is_none() {
        apt_packages(&["npm"])?;
    }
    step("installing the Node test service's npm packages (npm ci, pinned by package-lock.json)");
    run_cmd(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir))?;
    std::fs::write(&stamp, &lock).map_err(|e| format!("{}: {e}", stamp.display()))
}

/// Whether rustup's toolchain can build wasm: already has the target, or gets it within a short timeout.
/// A failed attempt is remembered in `.tools/`, so later runs do not wait again.
fn rustup_wasm_target() -> bool {
    let installed = || {
        output(Command::new("rustup").args(["target", "list", "--installed"]))
            .is_some_and(|s| s.lines().any(|l| l.trim() == WASM_TARGET))
    };
    if installed() {
        return true;
    }
    let marker = tools().join("rustup-wasm-unavailable");
    if marker.exists() {
        return false;
    }
    step(&format!("trying `rustup target add {WASM_TARGET}` (at most {RUSTUP_TIMEOUT_SECS} s)"));
    let added = Command::new("timeout")
        .args([RUSTUP_TIMEOUT_SECS, "rustup", "target", "add", WASM_TARGET])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if added && installed() {
        return true;
    }
    step("rustup cannot add the wasm target here: using Debian's rustc with std built from source");
    let _ = std::fs::create_dir_all(tools());
    let _ = std::fs::write(&marker, "rustup target add timed out or failed; delete this file to try again\n");
    false
}

fn apt_packages(packages: &[&str]) -> Result {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !output(Command::new("dpkg-query").args(["-W", "-f=${Status}", p]))
                .is_some_and(|s| s.contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    step(&format!("installing Debian packages: {}", missing.join(" ")));
    run_cmd(&mut apt(&["update", "-q"]))?;
    let mut args = vec!["install", "-y", "-q"];
    args.extend(&missing);
    run_cmd(&mut apt(&args))
}

/// The `wasm-bindgen` crate version in Cargo.lock: the CLI must match it exactly.
fn wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|v| v.strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_string());
            }
        }
    }
    Err("wasm-bindgen not found in Cargo.lock".into())
}

/// Looks for `name` in `.tools/bin`, `~/.cargo/bin` and PATH; true if one prints `want` in `--version`.
fn tool_has_version(name: &str, want: &str) -> bool {
    tool_dirs().iter().map(|d| d.join(name)).filter(|p| p.is_file()).any(|p| {
        output(Command::new(&p).arg("--version")).is_some_and(|v| v.contains(want))
    })
}

/// Whether `cargo install` put exactly this version of `krate` into `.tools` (for tools without `--version`).
fn tool_installed(krate: &str, version: &str) -> bool {
    std::fs::read_to_string(tools().join(".crates.toml")).is_ok_and(|t| t.contains(&format!("\"{krate} {version} ")))
}

fn tool_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![tools().join("bin")];
    if let Some(home) = env::var_os("CARGO_HOME").map(PathBuf::from).or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo"))) {
        dirs.push(home.join("bin"));
    }
    if let Some(path) = env::var_os("PATH") {
        dirs.extend(env::split_paths(&path));
    }
    dirs
}

fn cargo_install(args: &[&str]) -> Result<(String, std::process::Child)> {
    let child = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("install")
        .args(args)
        .arg("--root")
        .arg(tools())
        .env("CARGO_TARGET_DIR", tools().join("build"))
        .spawn()
        .map_err(|e| format!("cannot run cargo install: {e}"))?;
    Ok((args[0].to_string(), child))
}

/// PATH for wasm builds: Debian's wasm-capable rustc/cargo first, then our tools.
fn wasm_path() -> OsString {
    let mut dirs = vec![PathBuf::from("/usr/bin")];
    dirs.extend(tool_dirs());
    env::join_paths(dirs).expect("paths without separators")
}

/// Where wasm builds go (`wasm_env`), beside the host builds; `split_app` reads the app's wasm from there.
fn wasm_target_dir() -> PathBuf {
    root().join("target/wasm")
}

/// Environment for wasm builds: rustup's own target when it has it; otherwise Debian's rustc, building
/// std from its sources (rustup cannot add the target on these machines).
fn wasm_env(cmd: &mut Command) -> &mut Command {
    cmd.env("CARGO_TARGET_DIR", wasm_target_dir());
    if rustup_wasm_target() {
        return cmd.env("PATH", env::join_paths(tool_dirs()).expect("paths without separators"));
    }
    cmd.env("PATH", wasm_path())
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_UNSTABLE_BUILD_STD", "std,panic_abort")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO_MANIFEST_DIR")
}

// ---------------------------------------------------------------- build / run

fn build_app() -> Result {
    step("building the app with Trunk (release)");
    let t = Instant::now();
    run_cmd(
        wasm_env(&mut Command::new("trunk"))
            .args(["build", "--release"])
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS", APP_RUSTFLAGS)
            .current_dir(root()),
    )?;
    split_app(&root().join("dist"))?;
    precompress(&root().join("dist"))?;
    step(&format!("app built into dist/ in {:.0?}", t.elapsed()));
    Ok(())
}

/// The shipped app's rustflags; they replace `.cargo/config.toml`'s for the wasm target, so they repeat
/// its `erase_components`. `sightline_split` turns the pages after the first into `#[lazy]` functions
/// (src/app.rs), and the relocations let `wasm-split-cli` move their code out of the main module.
const APP_RUSTFLAGS: &str = "--cfg erase_components --cfg sightline_split -Clink-args=--emit-relocs";

/// Replaces Trunk's single wasm module with the split one: `dist/app-<hash>/` holds the main module and its
/// JS glue (what the first load fetches), `__wasm_split.js` and the chunks of the lazily loaded pages,
/// fetched on the first visit to one of them. Trunk's `<hash>` names the directory, so a new build's chunks
/// never meet an old build's main module in a cache. The page's script and preloads are pointed at the new glue.
/// (Trunk's "Failed to minify JS" warning is about its own glue for the unsplit wasm, which is dropped here.)
fn split_app(dist: &Path) -> Result {
    let glue = std::fs::read_dir(dist)
        .map_err(|e| format!("{}: {e}", dist.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find(|n| n.starts_with("sightline-app-") && n.ends_with(".js"))
        .ok_or("Trunk wrote no sightline-app-<hash>.js into dist/")?;
    let trunk_name = glue.trim_end_matches(".js").to_string();
    let hash = trunk_name.trim_start_matches("sightline-app-");
    let dir = dist.join(format!("app-{hash}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let raw = wasm_target_dir().join(WASM_TARGET).join("release/sightline-app.wasm");
    run_cmd(Command::new(tools().join("bin/wasm-split-cli")).arg(&raw).arg(&dir).args(["--out-name", "sightline-app"]))?;
    let main = dir.join("sightline-app.wasm");
    run_cmd(
        Command::new(tools().join("bin/wasm-bindgen"))
            .args(["--target", "web", "--keep-lld-exports", "--no-demangle", "--no-typescript", "--out-name", "sightline-app", "--out-dir"])
            .arg(&dir)
            .arg(&main),
    )?;
    for f in [main, dist.join(&glue), dist.join(format!("{trunk_name}_bg.wasm"))] {
        std::fs::remove_file(&f).map_err(|e| format!("{}: {e}", f.display()))?;
    }
    let page = dist.join("index.html");
    let html = std::fs::read_to_string(&page).map_err(|e| format!("{}: {e}", page.display()))?;
    if !html.contains(&format!("/{trunk_name}")) {
        return Err(format!("dist/index.html does not load /{trunk_name}.js"));
    }
    let html = html.replace(&format!("/{trunk_name}"), &format!("/app-{hash}/sightline-app"));
    // The glue imports the split loader before it can start the wasm: ask for both at once.
    let preload = format!("<link rel=modulepreload href=/app-{hash}/__wasm_split.js crossorigin></head>");
    if !html.contains("</head>") {
        return Err("dist/index.html has no </head>".into());
    }
    let html = html.replacen("</head>", &preload, 1);
    std::fs::write(&page, html).map_err(|e| format!("{}: {e}", page.display()))?;
    Ok(())
}

/// Writes `<file>.br` (brotli, quality 11) and `<file>.gz` (gzip -9) beside every text and wasm file of the
/// built app, once per build, so the server sends the smallest encoding a browser accepts without
/// compressing on each request (`ServeDir::precompressed_*`). Prints what a first load transfers.
fn precompress(dist: &Path) -> Result {
    const EXTENSIONS: [&str; 7] = ["wasm", "js", "css", "html", "svg", "json", "txt"];
    let mut files = Vec::new();
    let mut dirs = vec![dist.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))? {
            let p = e.map_err(|e| e.to_string())?.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().and_then(|x| x.to_str()).is_some_and(|x| EXTENSIONS.contains(&x)) {
                files.push(p);
            }
        }
    }
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let (mut raw, mut br, mut gz) = (0, 0, 0);
    for f in &files {
        run_cmd(Command::new("brotli").args(["-q", "11", "-f", "-k"]).arg(f))?;
        run_cmd(Command::new("gzip").args(["-9", "-f", "-k", "-n"]).arg(f))?;
        let with = |ext: &str| PathBuf::from(format!("{}.{ext}", f.display()));
        // What a first load fetches: the page (its style sheets inside), its script, the split loader and
        // the main wasm module; not the pages' chunks, nor the assets.
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let chunk = name.starts_with("chunk_") || name.starts_with("split_");
        if !f.starts_with(dist.join("assets")) && !chunk {
            raw += size(f);
            br += size(&with("br"));
            gz += size(&with("gz"));
        }
    }
    step(&format!("precompressed {} files; a first load transfers {} KB brotli ({} KB gzip, {} KB raw)", files.len(), br / 1000, gz / 1000, raw / 1000));
    Ok(())
}

fn cargo() -> Command {
    let mut c = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(extra: &[String]) -> Result {
    step("building the server");
    run_cmd(cargo().args(["build", "-p", "sightline-server", "--profile", "server"]))?;
    let bin = root().join("target/server/sightline");
    let mut cmd = Command::new(&bin);
    cmd.arg("serve").arg("--demo").args(extra).current_dir(root());
    step(&format!("starting {}", bin.display()));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Replace this process so Ctrl-C reaches the server directly and it shuts down cleanly.
        Err(format!("cannot exec the server: {}", cmd.exec()))
    }
    #[cfg(not(unix))]
    run_cmd(&mut cmd)
}

// ---------------------------------------------------------------- test

fn test(extra: &[String]) -> Result {
    let t = Instant::now();
    python_venv()?;
    step("building the server for the end-to-end tests");
    run_cmd(cargo().args(["build", "-p", "sightline-server"]))?;
    step("clippy on every crate, warnings as errors");
    run_cmd(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    step("host tests: unit, integration, and end-to-end in headless Chromium");
    run_cmd(e2e_env(&mut cargo()).args(["test", "--workspace", "--exclude", "xtask", "--no-fail-fast"]).args(extra))?;
    step("wasm tests in headless Chromium (wasm-bindgen-test)");
    let runner = tool_dirs()
        .into_iter()
        .map(|d| d.join("wasm-bindgen-test-runner"))
        .find(|p| p.is_file())
        .ok_or("wasm-bindgen-test-runner not found")?;
    run_cmd(
        wasm_env(&mut Command::new("cargo"))
            .current_dir(root())
            .args(["test", "-p", "sightline-app", "--target", "wasm32-unknown-unknown"])
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", runner)
            .env("CHROMEDRIVER", "/usr/bin/chromedriver")
            .env("WASM_BINDGEN_TEST_TIMEOUT", "120"),
    )?;
    step(&format!("all tests passed in {:.0?}", t.elapsed()));
    Ok(())
}

/// A venv with the real OpenTelemetry Python SDK, used by the ingest tests as a real client.
fn python_venv() -> Result {
    let venv = tools().join("venv");
    let py = venv.join("bin/python");
    let ok = py.is_file()
        && output(Command::new(&py).args(["-c", "import opentelemetry.exporter.otlp.proto.http, opentelemetry.exporter.otlp.proto.grpc"]))
            .is_some();
    if ok {
        return Ok(());
    }
    step("creating a Python venv with the OpenTelemetry SDK");
    run_cmd(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run_cmd(Command::new(venv.join("bin/pip")).args(["install", "-q"]).args(PY_PACKAGES))
}

/// Environment of the browser-driven tests: where the server binary, the built app and the browser are.
fn e2e_env(cmd: &mut Command) -> &mut Command {
    cmd.env("SIGHTLINE_BIN", root().join("target/debug/sightline"))
        .env("SIGHTLINE_DIST", root().join("dist"))
        .env("SIGHTLINE_PYTHON", tools().join("venv/bin/python"))
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
}

fn bench(extra: &[String]) -> Result {
    run_cmd(cargo().args(["bench", "-p", "sightline-server"]).args(extra))?;
    run_cmd(cargo().args(["build", "-p", "sightline-server"]))?;
    run_cmd(e2e_env(&mut cargo()).args(["test", "-p", "sightline-app", "--test", "bench_client", "--", "--ignored", "--nocapture"]))
}

/// Not a test (it asserts nothing): an example that drives the real app and waits for what each picture
/// needs (`cargo run -p sightline-app --example screenshots -- apm` makes one set).
fn screenshots() -> Result {
    run_cmd(cargo().args(["build", "-p", "sightline-server"]))?;
    run_cmd(e2e_env(&mut cargo()).args(["run", "-p", "sightline-app", "--example", "screenshots"]))
}

// ---------------------------------------------------------------- soak

/// `cargo xtask soak …`: builds the server as it ships (`server` profile) and runs the soak driver
/// (`crates/server/examples/soak.rs`, built with the same profile) against it; arguments go to the driver.
fn soak(args: &[String]) -> Result {
    step("building the server and the soak driver (server profile)");
    run_cmd(cargo().args(["build", "-p", "sightline-server", "--profile", "server", "--bin", "sightline", "--example", "soak"]))?;
    let driver = root().join("target/server/examples/soak");
    let bin = root().join("target/server/sightline");
    run_cmd(Command::new(driver).arg("--bin").arg(bin).args(args).current_dir(root()))
}

// ---------------------------------------------------------------- fuzz

const CARGO_FUZZ_VERSION: &str = "0.13";
/// The targets of fuzz/ (fuzz/Cargo.toml), in the order they run.
const FUZZ_TARGETS: &[&str] = &["otlp_protobuf", "otlp_json", "board_json", "api_query", "api_params"];

/// `cargo xtask fuzz [--runs N] [target…]`: each target (default: all) for N inputs, one after the other
/// (libFuzzer uses one core each), then its corpus minimised (`cargo fuzz cmin`), so what is committed
/// stays small. Not part of `setup`/`test`: only this command installs cargo-fuzz or builds fuzz/.
/// libFuzzer needs nightly flags: `RUSTC_BOOTSTRAP=1` on the stable toolchain. No sanitizer (the code is
/// safe Rust: the hunt is for panics), with debug assertions and overflow checks on, so an arithmetic
/// overflow is a crash too. Fails if any target crashed; the input is then in fuzz/artifacts/<target>/.
fn fuzz(args: &[String]) -> Result {
    let mut runs: u64 = 1_000_000;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => {
                runs = args.next().and_then(|n| n.replace('_', "").parse().ok()).ok_or("--runs needs a number")?;
            }
            t if FUZZ_TARGETS.contains(&t) => targets.push(t),
            other => return Err(format!("unknown fuzz argument {other:?} (targets: {})", FUZZ_TARGETS.join(", "))),
        }
    }
    if targets.is_empty() {
        targets = FUZZ_TARGETS.to_vec();
    }
    if !tool_has_version("cargo-fuzz", &format!("cargo-fuzz {CARGO_FUZZ_VERSION}")) {
        step(&format!("installing cargo-fuzz {CARGO_FUZZ_VERSION} (first time only, ~2 min)"));
        let (name, mut child) = cargo_install(&["cargo-fuzz", "--version", &format!("~{CARGO_FUZZ_VERSION}"), "--locked"])?;
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("installing {name} failed ({status})"));
        }
        let _ = std::fs::remove_dir_all(tools().join("build"));
    }
    let fuzz_cmd = |args: &[&str]| {
        let mut c = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        c.current_dir(root().join("fuzz"))
            .env("PATH", env::join_paths(tool_dirs()).expect("paths without separators"))
            .env("RUSTC_BOOTSTRAP", "1")
            .arg("fuzz")
            .args(args)
            .args(["--sanitizer", "none", "--debug-assertions"]);
        c
    };
    step("building the fuzz targets");
    run_cmd(&mut fuzz_cmd(&["build"]))?;
    let mut results = Vec::new();
    let mut crashed = Vec::new();
    for target in targets {
        step(&format!("fuzzing {target} for {runs} inputs"));
        let t = Instant::now();
        let mut libfuzzer = vec![format!("-runs={runs}"), "-timeout=30".into(), "-rss_limit_mb=4096".into(), "-print_final_stats=1".into()];
        // A target's dictionary (names and values it knows) helps libFuzzer past the parser into the checks.
        let dict = root().join("fuzz/dict").join(format!("{target}.dict"));
        if dict.is_file() {
            libfuzzer.push(format!("-dict={}", dict.display()));
        }
        // The inputs that once crashed it (fuzz/regressions/<target>/) are run first, and kept apart from the
        // corpus, which `cmin` may thin out; new inputs go to the first directory, the corpus.
        let corpus = format!("corpus/{target}");
        let regressions = format!("regressions/{target}");
        std::fs::create_dir_all(root().join("fuzz").join(&corpus)).map_err(|e| format!("cannot create fuzz/{corpus}: {e}"))?;
        let mut dirs = vec![corpus.as_str()];
        if root().join("fuzz").join(&regressions).is_dir() {
            dirs.push(&regressions);
        }
        let status = fuzz_cmd(&["run", target])
            .args(&dirs)
            .arg("--")
            .args(&libfuzzer)
            .status()
            .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
        let took = t.elapsed();
        if !status.success() {
            crashed.push(format!("{target} ({status}; a crashing input is in fuzz/artifacts/{target}/)"));
            results.push(format!("{target:<14} FAILED ({status}) after {took:.0?}"));
            continue;
        }
        run_cmd(&mut fuzz_cmd(&["cmin", target]))?;
        let files = std::fs::read_dir(root().join("fuzz/corpus").join(target)).map(|d| d.count()).unwrap_or(0);
        results.push(format!("{target:<14} {runs} inputs in {took:.1?}, 0 crashes; corpus {files} files"));
    }
    eprintln!("fuzz results:");
    for r in &results {
        eprintln!("  {r}");
    }
    match crashed.is_empty() {
        true => Ok(()),
        false => Err(format!("crashed: {}", crashed.join(", "))),
    }
}
