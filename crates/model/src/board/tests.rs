use proptest::prelude::*;

use super::*;

fn widget(id: &str, x: u32, y: u32, w: u32, h: u32) -> Widget {
    Widget {
        id: id.into(),
        kind: WidgetKind::Text,
        title: String::new(),
        x,
        y,
        w,
        h,
        query: None,
        options: WidgetOptions { text: Some("note".into()), ..Default::default() },
    }
}

fn board(widgets: Vec<Widget>) -> Board {
    Board {
        format_version: BOARD_FORMAT_VERSION,
        id: "b1".into(),
        title: "Test".into(),
        version: 1,
        updated_ms: 0,
        author: None,
        time: BoardTime::default(),
        variables: vec![Variable { name: "service".into(), label: String::new(), value: None }],
        widgets,
    }
}

fn pos(ws: &[Widget], id: &str) -> (u32, u32, u32, u32) {
    let w = ws.iter().find(|w| w.id == id).unwrap();
    (w.x, w.y, w.w, w.h)
}

fn assert_sound(ws: &[Widget]) {
    for (i, a) in ws.iter().enumerate() {
        assert!(a.w >= 1 && a.h >= 1 && a.x + a.w <= GRID_COLUMNS && a.h <= MAX_WIDGET_HEIGHT, "{a:?} outside the grid");
        for b in &ws[i + 1..] {
            assert!(!overlaps(a, b), "{a:?} overlaps {b:?}");
        }
    }
}

#[test]
fn dropping_on_a_widget_pushes_it_down() {
    let mut ws = vec![widget("a", 0, 0, 12, 4), widget("b", 12, 0, 12, 4), widget("c", 0, 4, 18, 3)];
    assert!(move_widget(&mut ws, "c", 6, 0));
    assert_eq!(pos(&ws, "c"), (6, 0, 18, 3), "kept where dropped, on top");
    assert_eq!(pos(&ws, "a"), (0, 3, 12, 4));
    assert_eq!(pos(&ws, "b"), (12, 3, 12, 4));
    assert_sound(&ws);
}

#[test]
fn gaps_float_up_and_moving_below_swaps() {
    let mut ws = vec![widget("a", 0, 0, 24, 2), widget("b", 0, 2, 24, 2)];
    // Dropped past b's bottom: a goes below b and b floats up.
    assert!(move_widget(&mut ws, "a", 0, 4));
    assert_eq!(pos(&ws, "b"), (0, 0, 24, 2));
    assert_eq!(pos(&ws, "a"), (0, 2, 24, 2));
    // A widget alone far down floats to the top.
    let mut ws = vec![widget("z", 3, 50, 4, 4)];
    compact(&mut ws);
    assert_eq!(pos(&ws, "z"), (3, 0, 4, 4));
}

#[test]
fn resizing_pushes_neighbours_and_clamps() {
    let mut ws = vec![widget("a", 0, 0, 12, 4), widget("b", 12, 0, 12, 4)];
    assert!(resize_widget(&mut ws, "a", 18, 2));
    assert_eq!(pos(&ws, "a"), (0, 0, 18, 2));
    assert_eq!(pos(&ws, "b"), (12, 2, 12, 4));
    assert!(resize_widget(&mut ws, "b", 99, 0));
    assert_eq!(pos(&ws, "b"), (12, 2, 12, 1), "no wider than the grid's edge, at least one row");
    assert!(!resize_widget(&mut ws, "nope", 1, 1));
    assert!(!move_widget(&mut ws, "nope", 1, 1));
    assert_sound(&ws);
}

#[test]
fn free_slot_fills_holes_first() {
    let ws = vec![widget("a", 0, 0, 12, 4), widget("b", 0, 4, 24, 2)];
    assert_eq!(free_slot(&ws, 12, 4), (12, 0));
    assert_eq!(free_slot(&ws, 13, 4), (0, 6));
    assert_eq!(free_slot(&[], 6, 6), (0, 0));
    let mut ws = ws;
    place_widget(&mut ws, widget("c", 0, 0, 6, 1));
    assert_eq!(pos(&ws, "c"), (0, 0, 6, 1));
    assert_eq!(pos(&ws, "a"), (0, 1, 12, 4));
    assert_sound(&ws);
    assert_eq!(new_widget_id(&ws, "a"), "a-1");
    assert_eq!(new_widget_id(&[widget("w-1", 0, 0, 1, 1)], "w"), "w-2");
}

#[test]
fn validate_names_every_problem() {
    assert_eq!(validate(&board(vec![widget("a", 0, 0, 12, 4), widget("b", 12, 0, 12, 4)])), Ok(()));
    let mut bad = board(vec![
        widget("a", 0, 0, 12, 4),
        widget("a", 20, 0, 8, 4),
        widget("c", 6, 2, 4, 4),
        widget("d", 0, 10, 30, 0),
    ]);
    bad.widgets[2].kind = WidgetKind::Unknown("pie".into());
    bad.widgets.push(Widget { kind: WidgetKind::Timeseries, options: WidgetOptions::default(), ..widget("e", 0, 20, 4, 4) });
    bad.widgets.push(Widget {
        kind: WidgetKind::Bar,
        query: Some(WidgetQuery { metric: "m".into(), filter: [("service".to_string(), "$nope".to_string())].into(), group_by: vec![] }),
        ..widget("f", 0, 30, 4, 4)
    });
    bad.format_version = 9;
    bad.title = " ".into();
    bad.id = "has space".into();
    let p = validate(&bad).unwrap_err();
    let has = |s: &str| assert!(p.iter().any(|m| m.contains(s)), "no message containing {s:?} in {p:#?}");
    has("format_version 9 is not supported");
    has("board id \"has space\"");
    has("needs a title");
    has("widget \"a\": the id is used by more than one widget");
    has("ends past column 24, outside the grid");
    has("unknown kind \"pie\" (known: timeseries, bar");
    has("widget \"d\": size 30×0 is empty");
    has("widget \"d\": 30 columns wide, the grid has 24");
    has("widgets \"a\" and \"c\" overlap");
    has("widget \"e\": a timeseries widget needs a query");
    has("uses $nope, which is not a board variable");
}

#[test]
fn json_shape_is_the_documented_one() {
    let mut b = board(vec![widget("a", 0, 0, 12, 4)]);
    b.widgets[0].kind = WidgetKind::Unknown("future_kind".into());
    let v = serde_json::to_value(&b).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["time"]["range"]["type"], "relative");
    assert_eq!(v["widgets"][0]["kind"], "future_kind", "unknown kinds survive a round trip");
    assert_eq!(v["widgets"][0]["options"]["text"], "note");
    assert!(v["widgets"][0].get("query").is_none());
    // Minimal input: optional fields default.
    let min: Board = serde_json::from_str(r#"{"format_version":1,"id":"x","title":"X"}"#).unwrap();
    assert_eq!(min.widgets.len(), 0);
    assert_eq!(min.time, BoardTime::default());
    // The example in docs/BOARDS.md parses and is valid.
    let doc = include_str!("../../../../docs/BOARDS.md");
    let start = doc.find("```json\n").expect("a json block in docs/BOARDS.md") + 8;
    let end = start + doc[start..].find("```").unwrap();
    let example: Board = serde_json::from_str(&doc[start..end]).expect("the documented example parses");
    assert_eq!(validate(&example), Ok(()));
}

#[test]
fn diff_names_what_changed() {
    let before = board(vec![widget("a", 0, 0, 12, 4), widget("b", 12, 0, 12, 4), widget("c", 0, 4, 24, 2)]);
    let mut after = before.clone();
    after.version = 7;
    after.updated_ms = 99;
    assert!(diff(&before, &after).is_empty(), "revision and save time are not changes");
    after.title = "New".into();
    after.widgets.retain(|w| w.id != "b");
    after.widgets[0].title = "Throughput".into();
    assert!(resize_widget(&mut after.widgets, "a", 24, 4));
    after.widgets[1].query = Some(WidgetQuery { metric: "transactions.tps".into(), filter: Default::default(), group_by: vec![] });
    after.widgets.push(widget("d", 0, 6, 6, 2));
    let d = diff(&before, &after);
    assert_eq!(d.title, Some(("Test".into(), "New".into())));
    assert_eq!((d.added, d.removed.clone()), (vec!["d".to_string()], vec!["b".to_string()]));
    assert_eq!((d.resized.clone(), d.moved.clone(), d.requeried.clone(), d.restyled.clone()), (vec!["a".into()], vec![], vec!["c".into()], vec!["a".into()]));
    let d = diff(&before, &after);
    assert_eq!(
        d.summary(&before, &after),
        [
            "renamed \"Test\" to \"New\"",
            "added widget \"d\"",
            "removed widget \"b\"",
            "resized \"Throughput\"",
            "changed the query of widget \"c\"",
            "changed \"Throughput\"",
        ]
    );
}

// ---- property tests

fn arb_kind() -> impl Strategy<Value = WidgetKind> {
    prop::sample::select(WidgetKind::ALL.to_vec())
}

fn arb_widget(id: usize) -> impl Strategy<Value = Widget> {
    (arb_kind(), 0..30u32, 0..60u32, 0..30u32, 0..60u32, "[ -~]{0,12}", any::<bool>(), prop::option::of(0.0..1e6f64)).prop_map(
        move |(kind, x, y, w, h, title, stacked, thr)| Widget {
            id: format!("w{id}"),
            query: kind.needs_query().then(|| WidgetQuery {
                metric: "transactions.tps".into(),
                filter: [("service".to_string(), "$service".to_string())].into(),
                group_by: vec!["endpoint".into()],
            }),
            kind,
            title,
            x,
            y,
            w,
            h,
            options: WidgetOptions {
                stacked,
                thresholds: thr.map(|value| Threshold { value, color: "bad".into() }).into_iter().collect(),
                ..Default::default()
            },
        },
    )
}

#[derive(Debug, Clone)]
enum Op {
    Move(usize, u32, u32),
    Resize(usize, u32, u32),
    Add(u32, u32, u32, u32),
    Compact,
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..12usize, 0..30u32, 0..40u32).prop_map(|(i, x, y)| Op::Move(i, x, y)),
        4 => (0..12usize, 0..30u32, 0..60u32).prop_map(|(i, w, h)| Op::Resize(i, w, h)),
        1 => (0..30u32, 0..40u32, 0..30u32, 0..10u32).prop_map(|(x, y, w, h)| Op::Add(x, y, w, h)),
        1 => Just(Op::Compact),
    ]
}

fn arb_widgets() -> impl Strategy<Value = Vec<Widget>> {
    (0..10usize).prop_flat_map(|n| (0..n).map(arb_widget).collect::<Vec<_>>())
}

proptest! {
    /// Whatever the starting layout (overlapping, out of the grid) and whatever the user does, the board
    /// ends with every widget inside the grid and no two overlapping, and nothing is lost.
    #[test]
    fn no_sequence_of_edits_leaves_an_overlap(start in arb_widgets(), ops in prop::collection::vec(arb_op(), 0..25)) {
        let mut ws = start;
        compact(&mut ws);
        assert_sound(&ws);
        let mut n = ws.len();
        for op in ops {
            match op {
                Op::Move(i, x, y) => if n > 0 {
                    let id = ws[i % n].id.clone();
                    prop_assert!(move_widget(&mut ws, &id, x, y));
                    let w = ws.iter().find(|w| w.id == id).unwrap();
                    prop_assert_eq!(w.x, x.min(GRID_COLUMNS - w.w), "the moved widget lands on the asked column");
                },
                Op::Resize(i, w, h) => if n > 0 {
                    let id = ws[i % n].id.clone();
                    prop_assert!(resize_widget(&mut ws, &id, w, h));
                    let it = ws.iter().find(|x| x.id == id).unwrap();
                    prop_assert_eq!(it.h, h.clamp(1, MAX_WIDGET_HEIGHT));
                },
                Op::Add(x, y, w, h) => {
                    let id = new_widget_id(&ws, "w");
                    place_widget(&mut ws, widget(&id, x, y, w, h));
                    n += 1;
                }
                Op::Compact => compact(&mut ws),
            }
            prop_assert_eq!(ws.len(), n);
            assert_sound(&ws);
            prop_assert_eq!(validate(&board(ws.clone())), Ok(()));
        }
        // Compacting a compact layout changes nothing.
        let before = ws.clone();
        compact(&mut ws);
        prop_assert_eq!(before, ws);
    }

    /// A board survives JSON (export, import, storage) unchanged.
    #[test]
    fn board_json_round_trips(
        widgets in arb_widgets(),
        title in "\\PC{1,40}",
        version in any::<u64>(),
        updated_ms in any::<i64>(),
        live in any::<bool>(),
        relative in any::<bool>(),
        ms in 1..i64::MAX,
        value in prop::option::of("[a-z]{1,8}"),
    ) {
        let b = Board {
            format_version: BOARD_FORMAT_VERSION,
            id: "round-trip".into(),
            title,
            version,
            updated_ms,
            author: None,
            time: BoardTime {
                range: if relative { TimeRange::Relative { ms } } else { TimeRange::Absolute { from: -ms / 2, to: ms } },
                live,
            },
            variables: vec![Variable { name: "service".into(), label: "Service".into(), value }],
            widgets,
        };
        let json = serde_json::to_string(&b).unwrap();
        let back: Board = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &b);
        let pretty = serde_json::to_string_pretty(&b).unwrap();
        prop_assert_eq!(serde_json::from_str::<Board>(&pretty).unwrap(), b);
    }
}
