//! Stable sorting through one copy of the standard library's sort. Each `sort_by` with its own element
//! type and comparator compiles to a copy of the whole sort (~4.5 KB of wasm each); these sort the list of
//! positions with a comparator behind `dyn`, so the app carries the sort once.

use std::cmp::Ordering;

/// `v.sort_by(cmp)`: stable, equal elements keep their order.
pub fn sort_by<T>(v: &mut Vec<T>, mut cmp: impl FnMut(&T, &T) -> Ordering) {
    let mut order: Vec<usize> = (0..v.len()).collect();
    sort_positions(&mut order, &mut |a, b| cmp(&v[*a], &v[*b]));
    let mut slots: Vec<Option<T>> = v.drain(..).map(Some).collect();
    v.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

/// `v.sort()`.
pub fn sort<T: Ord>(v: &mut Vec<T>) {
    sort_by(v, T::cmp)
}

#[inline(never)]
fn sort_positions(order: &mut [usize], cmp: &mut dyn FnMut(&usize, &usize) -> Ordering) {
    order.sort_by(cmp);
}

#[cfg(test)]
mod tests {
    #[test]
    fn stable_like_the_standard_sort() {
        let mut v = vec![(2, 'a'), (1, 'b'), (2, 'c'), (0, 'd'), (1, 'e')];
        super::sort_by(&mut v, |a, b| a.0.cmp(&b.0));
        assert_eq!(v, [(0, 'd'), (1, 'b'), (1, 'e'), (2, 'a'), (2, 'c')]);
        let mut w = vec!["b", "a", "c"];
        super::sort(&mut w);
        assert_eq!(w, ["a", "b", "c"]);
    }
}
