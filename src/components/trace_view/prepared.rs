//! A loaded trace plus what the waterfall derives from its depth-first step list once (each step's parent
//! and subtree), so scrolling and collapsing never walk the whole trace again.

use std::collections::HashSet;

use sightline_model::{Status, Step, Trace};

pub(super) struct Prepared {
    pub trace: Trace,
    /// Parent step of each step (the nearest earlier step one level up), `None` for roots.
    pub parent: Vec<Option<usize>>,
    /// Steps `i + 1 .. subtree_end[i]` are the descendants of step `i`.
    pub subtree_end: Vec<usize>,
}

impl Prepared {
    pub fn new(trace: Trace) -> Self {
        let n = trace.steps.len();
        let mut parent = vec![None; n];
        let mut subtree_end = vec![n; n];
        let mut open: Vec<usize> = Vec::new();
        for (i, step) in trace.steps.iter().enumerate() {
            while let Some(&top) = open.last() {
                if trace.steps[top].depth >= step.depth {
                    subtree_end[top] = i;
                    open.pop();
                } else {
                    break;
                }
            }
            parent[i] = open.last().copied();
            open.push(i);
        }
        Prepared { trace, parent, subtree_end }
    }

    pub fn step(&self, i: usize) -> &Step {
        &self.trace.steps[i]
    }

    /// The step the server found slowest (largest self time), if it is one of the steps.
    pub fn slowest(&self) -> Option<usize> {
        self.trace.slowest_step.filter(|&i| i < self.trace.steps.len())
    }

    pub fn has_children(&self, i: usize) -> bool {
        self.subtree_end[i] > i + 1
    }

    /// Positions of the steps not hidden under a collapsed ancestor, in order.
    pub fn visible(&self, collapsed: &HashSet<usize>) -> Vec<usize> {
        let n = self.trace.steps.len();
        let mut out = Vec::with_capacity(if collapsed.is_empty() { n } else { n.min(1024) });
        let mut i = 0;
        while i < n {
            out.push(i);
            i = if collapsed.contains(&i) { self.subtree_end[i] } else { i + 1 };
        }
        out
    }

    /// The step's thread, or the nearest ancestor's in the same service (a span without `thread.*` runs
    /// on its caller's thread in the agents we know) with that ancestor's name.
    pub fn thread_of(&self, i: usize) -> Option<(String, Option<String>)> {
        let step = self.step(i);
        if let Some(t) = &step.thread {
            return Some((t.clone(), None));
        }
        let mut p = self.parent[i];
        while let Some(a) = p {
            let anc = self.step(a);
            if anc.service != step.service {
                return None;
            }
            if let Some(t) = &anc.thread {
                return Some((t.clone(), Some(anc.name.clone())));
            }
            p = self.parent[a];
        }
        None
    }

    pub fn is_error(&self, i: usize) -> bool {
        let s = self.step(i);
        s.status == Status::Error || s.error.is_some()
    }

    /// Where the failure of `error_type` was recorded: the deepest step whose exception has that type (the
    /// type as written, or its last `.`-part: `SocketTimeoutException`), else the deepest step with any
    /// exception, else the first failed step. Empty `error_type`: any exception. `None`: nothing failed.
    pub fn exception_step(&self, error_type: &str) -> Option<usize> {
        let n = self.trace.steps.len();
        let kind_of = |i: usize| self.step(i).error.as_ref().and_then(|e| e.kind.as_deref());
        let matches = |k: &str| !error_type.is_empty() && (k == error_type || k.rsplit(['.', '$']).next() == Some(error_type));
        let deepest = |ok: &dyn Fn(usize) -> bool| (0..n).filter(|&i| ok(i)).max_by_key(|&i| (self.step(i).depth, std::cmp::Reverse(i)));
        deepest(&|i| kind_of(i).is_some_and(matches))
            .or_else(|| deepest(&|i| self.step(i).error.is_some()))
            .or_else(|| (0..n).find(|&i| self.is_error(i)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_model::StepKind;

    /// A step at `depth`, starting `offset` ms into the trace and lasting `dur` ms.
    fn step(name: &str, depth: u32, offset: f64, dur: f64, thread: Option<&str>) -> Step {
        Step {
            span_id: name.into(),
            parent_span_id: None,
            depth,
            kind: StepKind::Method,
            service: "svc".into(),
            name: name.into(),
            offset_ms: offset,
            duration_ms: dur,
            self_ms: 0.0,
            status: Status::Ok,
            text: None,
            target: None,
            thread: thread.map(str::to_string),
            error: None,
            critical: false,
        }
    }

    /// root ─┬─ a ─┬─ a1
    ///       │     └─ a2
    ///       └─ b
    fn sample() -> Prepared {
        Prepared::new(Trace {
            trace_id: "t".into(),
            start_ms: 0,
            duration_ms: 100.0,
            transactions: vec![],
            steps: vec![
                step("root", 0, 0.0, 100.0, Some("main-1")),
                step("a", 1, 10.0, 50.0, None),
                step("a1", 2, 10.0, 20.0, None),
                step("a2", 2, 25.0, 20.0, None),
                step("b", 1, 70.0, 20.0, None),
            ],
            slowest_step: Some(0),
        })
    }

    #[test]
    fn parents_and_subtrees_from_depth_first_order() {
        let p = sample();
        assert_eq!(p.parent, vec![None, Some(0), Some(1), Some(1), Some(0)]);
        assert_eq!(p.subtree_end, vec![5, 4, 3, 4, 5]);
        assert!(p.has_children(0) && p.has_children(1) && !p.has_children(2) && !p.has_children(4));
    }

    #[test]
    fn collapsing_hides_exactly_the_subtree() {
        let p = sample();
        assert_eq!(p.visible(&HashSet::new()), vec![0, 1, 2, 3, 4]);
        assert_eq!(p.visible(&HashSet::from([1])), vec![0, 1, 4]);
        assert_eq!(p.visible(&HashSet::from([0])), vec![0]);
        // A collapsed step inside a collapsed one changes nothing more.
        assert_eq!(p.visible(&HashSet::from([0, 1])), vec![0]);
    }

    #[test]
    fn thread_comes_from_the_nearest_caller_in_the_same_service() {
        let mut p = sample();
        assert_eq!(p.thread_of(0), Some(("main-1".into(), None)));
        assert_eq!(p.thread_of(2), Some(("main-1".into(), Some("root".into()))));
        p.trace.steps[1].service = "other".into();
        assert_eq!(p.thread_of(2), None, "a caller in another service ran on another thread");
    }

    #[test]
    fn the_exception_step_is_the_deepest_of_the_asked_type() {
        use sightline_model::StepError;
        let mut p = sample();
        assert_eq!(p.exception_step(""), None, "nothing failed");
        let err = |kind: &str| Some(StepError { kind: Some(kind.into()), message: None, stacktrace: None });
        p.trace.steps[0].error = err("org.example.GatewayTimeout");
        p.trace.steps[3].error = err("java.net.SocketTimeoutException");
        assert_eq!(p.exception_step("org.example.GatewayTimeout"), Some(0));
        assert_eq!(p.exception_step("SocketTimeoutException"), Some(3), "the short name matches too");
        assert_eq!(p.exception_step(""), Some(3), "any type: the deepest exception");
        assert_eq!(p.exception_step("java.lang.NullPointerException"), Some(3), "no such type: the deepest exception");
        p.trace.steps[0].error = None;
        p.trace.steps[3].error = None;
        p.trace.steps[4].status = Status::Error;
        assert_eq!(p.exception_step(""), Some(4), "no exception recorded: the first failed step");
    }

    #[test]
    fn the_slowest_step_must_be_a_step() {
        let mut p = sample();
        assert_eq!(p.slowest(), Some(0));
        p.trace.slowest_step = Some(5);
        assert_eq!(p.slowest(), None);
    }
}
