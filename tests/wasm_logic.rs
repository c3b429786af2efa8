//! App logic that needs a real browser (JS Date, URL encoding), run in headless Chromium by
//! wasm-bindgen-test.
#![cfg(target_arch = "wasm32")]

use sightline_app::api::with_query;
use sightline_app::format::{datetime_local, duration, parse_datetime_local};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn datetime_local_round_trips_in_the_browsers_time_zone() {
    let ms = 1_767_323_045_000; // 2026-01-02 03:04:05 UTC
    let text = datetime_local(ms);
    assert_eq!(text.len(), 19, "{text}");
    assert_eq!(parse_datetime_local(&text), Some(ms));
    assert_eq!(parse_datetime_local("yesterday"), None);
    assert_eq!(parse_datetime_local(""), None);
}

#[wasm_bindgen_test]
fn query_values_are_escaped_and_unset_ones_dropped() {
    let url = with_query(
        "/api/v1/transactions",
        &[("service", Some("pay & go/v2".into())), ("cursor", None), ("limit", Some("50".into()))],
    );
    assert_eq!(url, "/api/v1/transactions?service=pay%20%26%20go%2Fv2&limit=50");
}

#[wasm_bindgen_test]
fn durations_read_naturally() {
    assert_eq!(duration(0.25), "0.25 ms");
    assert_eq!(duration(850.0), "850 ms");
    assert_eq!(duration(3020.0), "3.02 s");
    assert_eq!(duration(125_000.0), "2 min 5 s");
}

// ---------------------------------------------------------------------------------------------------------
// Board charts, mounted into a sized box with the app's chart stylesheet.

mod charts {
    use std::collections::BTreeMap;

    use leptos::prelude::*;
    use sightline_app::components::metric_chart::{format_value, ChartStyle, SeriesChart, SingleNumber, TopNTable};
    use sightline_model::{MetricQueryResult, MetricSeries, Threshold};
    use wasm_bindgen::JsCast;
    use wasm_bindgen_test::*;
    use web_sys::{Element, HtmlCanvasElement, HtmlElement};

    fn result(series: Vec<(&str, Vec<Option<f64>>)>, unit: &str) -> MetricQueryResult {
        let from = 1_767_323_040_000; // a whole minute
        let n = series.first().map_or(0, |s| s.1.len());
        MetricQueryResult {
            metric: "transactions.response_time.p95".into(),
            unit: unit.into(),
            from,
            to: from + n as i64 * 60_000,
            step_ms: 60_000,
            timestamps: (0..n as i64).map(|i| from + i * 60_000).collect(),
            series: series
                .into_iter()
                .map(|(svc, values)| MetricSeries {
                    labels: BTreeMap::from([("service".to_string(), svc.to_string())]),
                    values,
                })
                .collect(),
            truncated: 0,
        }
    }

    /// A `width` × `height` px box in the page, with the chart stylesheet loaded once.
    fn host(width: u32, height: u32) -> HtmlElement {
        let doc = web_sys::window().unwrap().document().unwrap();
        if doc.get_element_by_id("charts-css").is_none() {
            let style = doc.create_element("style").unwrap();
            style.set_id("charts-css");
            style.set_text_content(Some(include_str!("../style/charts.css")));
            doc.head().unwrap().append_child(&style).unwrap();
        }
        let div = doc.create_element("div").unwrap();
        div.set_attribute("style", &format!("width:{width}px;height:{height}px;position:relative")).unwrap();
        doc.body().unwrap().append_child(&div).unwrap();
        div.dyn_into().unwrap()
    }

    fn find(root: &Element, testid: &str) -> Option<Element> {
        root.query_selector(&format!("[data-testid={testid}]")).unwrap()
    }

    fn count(root: &Element, testid: &str) -> u32 {
        root.query_selector_all(&format!("[data-testid={testid}]")).unwrap().length()
    }

    /// Lets the resize observer and effects run until `done` holds (at most ~3 s).
    async fn until(done: impl Fn() -> bool) -> bool {
        for _ in 0..60 {
            if done() {
                return true;
            }
            gloo_timers::future::TimeoutFuture::new(50).await;
        }
        done()
    }

    #[wasm_bindgen_test]
    async fn series_chart_fills_its_box_at_device_resolution_and_lists_its_series() {
        let el = host(480, 240);
        let data = result(
            vec![("checkout", vec![Some(120.0), Some(340.0), None, Some(200.0)]), ("payment", vec![Some(80.0), None, None, Some(90.0)])],
            "ms",
        );
        let handle = leptos::mount::mount_to(el.clone(), move || {
            view! { <SeriesChart data=Signal::stored(data) style=ChartStyle::Line stacked=false /> }
        });
        let canvas = find(&el, "chart-canvas").expect("a canvas").dyn_into::<HtmlCanvasElement>().unwrap();
        let dpr = web_sys::window().unwrap().device_pixel_ratio();
        // Backing store = CSS size × DPR (a fresh canvas is 300 × 150); it fills the box minus the legend.
        let sized = || {
            canvas.width() == (canvas.client_width() as f64 * dpr).round() as u32
                && canvas.height() == (canvas.client_height() as f64 * dpr).round() as u32
        };
        assert!(until(sized).await, "backing store {}×{} for {}×{} CSS px", canvas.width(), canvas.height(), canvas.client_width(), canvas.client_height());
        assert_eq!(canvas.client_width(), 480);
        assert!(canvas.client_height() > 150 && canvas.client_height() < 240, "{}", canvas.client_height());
        assert!(find(&el, "chart-legend").is_some());
        assert_eq!(count(&el, "chart-legend-item"), 2);
        assert!(find(&el, "chart-legend").unwrap().text_content().unwrap().contains("service=payment"));
        let wrapper = find(&el, "series-chart").unwrap();
        assert_eq!(wrapper.get_attribute("data-series").as_deref(), Some("2"));
        assert_eq!(wrapper.get_attribute("data-points").as_deref(), Some("5"));
        assert!(find(&el, "chart-empty").is_none());

        // Hovering the right part of the plot reads out the last bucket.
        let plot = el.query_selector(".chart-plot").unwrap().unwrap();
        let r = plot.get_bounding_client_rect();
        let hover = js_sys::Function::new_with_args(
            "el, x, y",
            "el.dispatchEvent(new PointerEvent('pointermove', {clientX: x, clientY: y, bubbles: true}))",
        );
        hover.call3(&wasm_bindgen::JsValue::NULL, &plot, &(r.right() - 20.0).into(), &(r.top() + 40.0).into()).unwrap();
        assert!(until(|| find(&el, "chart-tooltip").is_some()).await, "no tooltip");
        let text = find(&el, "chart-tooltip").unwrap().text_content().unwrap();
        assert!(text.contains("200 ms") && text.contains("90 ms"), "{text}");

        // Switching a series off in the legend redraws without it.
        let item = el.query_selector("[data-testid=chart-legend-item]").unwrap().unwrap();
        item.dyn_into::<HtmlElement>().unwrap().click();
        assert!(until(|| wrapper.get_attribute("data-series").as_deref() == Some("1")).await);
        assert_eq!(wrapper.get_attribute("data-points").as_deref(), Some("2"));
        drop(handle);
    }

    #[wasm_bindgen_test]
    async fn empty_series_say_so_instead_of_drawing_axes() {
        let el = host(300, 200);
        let data = result(vec![("checkout", vec![None, None])], "ms");
        let _handle = leptos::mount::mount_to(el.clone(), move || {
            view! { <SeriesChart data=Signal::stored(data) style=ChartStyle::Bar stacked=true /> }
        });
        assert!(until(|| find(&el, "chart-empty").is_some()).await);
        assert_eq!(find(&el, "chart-empty").unwrap().text_content().unwrap(), "No data in this range");
        assert!(find(&el, "chart-legend").is_none());
        assert_eq!(find(&el, "series-chart").unwrap().get_attribute("data-series").as_deref(), Some("0"));
    }

    #[wasm_bindgen_test]
    async fn single_number_shows_the_latest_value_in_its_threshold_colour() {
        let el = host(240, 160);
        let data = result(vec![("checkout", vec![Some(300.0), Some(1234.0), None])], "ms");
        let thresholds = vec![Threshold { value: 0.0, color: "ok".into() }, Threshold { value: 1000.0, color: "bad".into() }];
        let _handle = leptos::mount::mount_to(el.clone(), move || {
            view! { <SingleNumber data=Signal::stored(data) sparkline=true thresholds=thresholds /> }
        });
        let value = find(&el, "single-number-value").unwrap();
        assert_eq!(value.text_content().unwrap(), format_value(1234.0, "ms"));
        assert_eq!(value.text_content().unwrap(), "1.23 s");
        assert_eq!(value.get_attribute("style").as_deref(), Some("color:var(--err)"));
        assert!(find(&el, "single-number-sparkline").is_some());
    }

    #[wasm_bindgen_test]
    async fn top_n_lists_the_highest_means_first() {
        let el = host(400, 200);
        let mut data = result(
            vec![("a", vec![Some(1.0), Some(3.0)]), ("b", vec![Some(10.0), None]), ("c", vec![Some(5.0), Some(5.0)])],
            "1/s",
        );
        data.truncated = 4;
        let _handle = leptos::mount::mount_to(el.clone(), move || {
            view! { <TopNTable data=Signal::stored(data) limit=2u32 /> }
        });
        assert_eq!(count(&el, "top-n-row"), 2);
        let first = find(&el, "top-n-row").unwrap().text_content().unwrap();
        assert!(first.starts_with("b") && first.contains("10/s"), "{first}");
        assert_eq!(el.query_selector("th").unwrap().unwrap().text_content().unwrap(), "service");
        assert_eq!(find(&el, "top-n-more").unwrap().text_content().unwrap(), "+5 more");
    }
}

// ---------------------------------------------------------------------------------------------------------
// The live hitmap's reconciliation of snapshots and stream batches (`use_live_hitmap`). A batch the app
// cannot read never comes from the real server, so its handling is tested here rather than end to end
// (tests/e2e_hitmap.rs also hands the page one through a wrapped EventSource).

mod live_hitmap {
    use sightline_app::hooks::{decode_batch, LiveReconciler};
    use sightline_model::{Grid, Hitmap, Scale};
    use wasm_bindgen_test::*;

    const T0: i64 = 1_767_323_040_000;

    fn snapshot(seq: u64) -> Hitmap {
        let mut h = Hitmap::empty(Grid { from: T0, to: T0 + 60_000, cols: 6, rows: 10, ymax_ms: 1_000.0, scale: Scale::Linear });
        h.seq = seq;
        h
    }

    fn batch(n: usize, error: bool) -> String {
        let p = serde_json::json!({"end_ms": T0 + 30_000, "duration_ms": 50.0, "error": error, "service": "shop"});
        serde_json::to_string(&vec![p; n]).unwrap()
    }

    #[wasm_bindgen_test]
    fn a_snapshot_gets_exactly_the_batches_it_lacks() {
        let mut r = LiveReconciler::default();
        // Batches 11 and 12 arrive before any snapshot: remembered only.
        r.apply(None, "11", &batch(2, false), T0 + 60_000).unwrap();
        r.apply(None, "12", &batch(3, true), T0 + 60_000).unwrap();
        // A snapshot that includes commit 11 gets batch 12 only.
        let h = r.complete(snapshot(11));
        assert_eq!((h.total, h.total_err), (3, 3));
        // One that includes both gets neither.
        assert_eq!(r.complete(snapshot(12)).total, 0);
        // A later batch goes onto the current hitmap; one it already includes does not.
        let mut current = r.complete(snapshot(11));
        r.apply(Some(&mut current), "13", &batch(1, false), T0 + 60_000).unwrap();
        assert_eq!(current.total, 4);
        let mut newer = snapshot(20);
        r.apply(Some(&mut newer), "14", &batch(5, false), T0 + 60_000).unwrap();
        assert_eq!(newer.total, 0, "commit 14 is already in a snapshot of commit 20");
    }

    #[wasm_bindgen_test]
    fn a_batch_that_cannot_be_read_changes_nothing_and_says_why() {
        let mut r = LiveReconciler::default();
        let mut current = snapshot(1);
        let e = r.apply(Some(&mut current), "2", "[{\"end_ms\": \"soon\"}]", T0 + 60_000).unwrap_err();
        assert!(e.starts_with("batch 2: "), "{e}");
        let e = r.apply(Some(&mut current), "", &batch(1, false), T0 + 60_000).unwrap_err();
        assert!(e.contains("not a commit number"), "{e}");
        assert_eq!(current.total, 0);
        // Nothing of it is remembered: the resync snapshot (which includes it) is completed with nothing.
        assert_eq!(r.complete(snapshot(1)).total, 0);
        assert_eq!(decode_batch("7", &batch(2, false)).unwrap().1.len(), 2);
    }
}

// ---------------------------------------------------------------------------------------------------------
// The cube page's URL (issue 13): read by the router's own query map, which needs the browser's decoding.

mod cube {
    use leptos_router::params::ParamsMap;
    use sightline_app::pages::cube::{drill_href, filter_string, CubeView, DEFAULT_LIMIT, DEFAULT_MEASURES};
    use sightline_model::{CubeDim, CubeMeasure};
    use wasm_bindgen_test::*;

    fn query(pairs: &[(&'static str, &str)]) -> ParamsMap {
        let mut q = ParamsMap::new();
        for (k, v) in pairs {
            q.replace(*k, v.to_string());
        }
        q
    }

    fn view_of(pairs: &[(&'static str, &str)]) -> CubeView {
        CubeView::from_query(&query(pairs))
    }

    #[wasm_bindgen_test]
    fn the_url_is_the_view() {
        let v = view_of(&[]);
        assert_eq!((v.group_by.as_str(), v.sort.as_str(), v.desc, v.limit), ("endpoint", "count", true, DEFAULT_LIMIT));
        assert_eq!(v.measures, DEFAULT_MEASURES.to_vec());
        let v = view_of(&[("group_by", "endpoint,status"), ("sort", "p95"), ("desc", "0"), ("measures", "p95,count,bogus"), ("filter", "service:pay")]);
        assert_eq!(v.dims(), vec![CubeDim::Endpoint, CubeDim::Status]);
        assert_eq!(v.measures, vec![CubeMeasure::Count, CubeMeasure::P95]);
        assert_eq!((v.sort_measure(), v.chart, v.desc), (Some(CubeMeasure::P95), CubeMeasure::P95, false));
        assert_eq!(filter_string(&v.filters()), "service:pay");
        // Unknown names go to the server as written: it says what is wrong.
        let p = view_of(&[("group_by", "endpoint,colour")]).params(0, 3_600_000);
        assert_eq!(p.group_by.as_deref(), Some("endpoint,colour"));
        assert_eq!(p.step_ms, Some(60_000));
        assert_eq!(view_of(&[("group_by", "")]).dims(), vec![]);
    }

    #[wasm_bindgen_test]
    fn figures_lead_to_the_list_only_when_it_can_show_them() {
        let q = query(&[("range", "1h"), ("group_by", "endpoint")]);
        let view = CubeView::from_query(&q);
        let key = [(CubeDim::Endpoint, "/pay".to_string()), (CubeDim::Status, "error".to_string())];
        let href = drill_href(&view, &key, (1_000, 61_000, Some(0)), &q).unwrap();
        assert!(href.starts_with("/apm?"), "{href}");
        for part in ["range=1h", "endpoint=%2Fpay", "status=error", "sel=1000%2C61000%2C0%2C"] {
            assert!(href.contains(part), "{part} in {href}");
        }
        assert!(!href.contains("group_by"), "cube parameters stay on the cube: {href}");
        // Raw data from 31 000 on: the list starts there.
        assert!(drill_href(&view, &key, (1_000, 61_000, Some(31_000)), &q).unwrap().contains("sel=31000%2C61000"));
        assert!(drill_href(&view, &key, (1_000, 61_000, None), &q).unwrap_err().contains("Only the rollup is left"));
        assert!(drill_href(&view, &key, (1_000, 61_000, Some(61_000)), &q).is_err());
        let by_instance = [(CubeDim::Instance, "i-1".to_string())];
        assert!(drill_href(&view, &by_instance, (1_000, 61_000, Some(0)), &q).unwrap_err().contains("cannot filter by instance"));
    }
}

// ---------------------------------------------------------------------------------------------------------
// The shell's first paint (`use_first_paint`): the top bar waits for a claiming page, at most a while.

mod first_paint {
    use leptos::prelude::*;
    use sightline_app::hooks::{provide_first_paint, use_first_paint, FIRST_PAINT_WAIT};
    use wasm_bindgen_test::*;

    /// Polls `done` every 20 ms for at most `ms`.
    async fn within(ms: u32, done: impl Fn() -> bool) -> bool {
        for _ in 0..ms / 20 {
            if done() {
                return true;
            }
            gloo_timers::future::TimeoutFuture::new(20).await;
        }
        done()
    }

    #[wasm_bindgen_test]
    async fn with_no_claim_the_shell_goes_on_in_the_first_frame() {
        let owner = Owner::new();
        let done = owner.with(provide_first_paint);
        assert!(!done.get_untracked(), "not before the first frame");
        assert!(within(3_000, || done.get_untracked()).await);
    }

    #[wasm_bindgen_test]
    async fn a_claim_holds_the_shell_until_reported_or_the_wait_ends() {
        let owner = Owner::new();
        let (done, report) = owner.with(|| (provide_first_paint(), use_first_paint()));
        // A second claim (another hitmap) changes nothing.
        let _second = owner.with(use_first_paint);
        gloo_timers::future::TimeoutFuture::new(50).await;
        assert!(!done.get_untracked(), "claimed and not reported: the shell waits");
        report.painted();
        report.painted();
        assert!(within(3_000, || done.get_untracked()).await, "reported: the shell goes on");

        let owner = Owner::new();
        let (done, _unreported) = owner.with(|| (provide_first_paint(), use_first_paint()));
        let wait = FIRST_PAINT_WAIT.as_millis() as u32;
        assert!(within(wait + 3_000, || done.get_untracked()).await, "never reported: the shell goes on after {wait} ms");
    }
}
