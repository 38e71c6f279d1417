//! The optimal assignment (Hungarian algorithm, O(n³)) for matching learned filters to true
//! ones: tens of filters at most, so a dense square version is enough.

/// The assignment of rows to columns that maximises the total score of a `rows × cols` matrix
/// (row-major). Returns, per row, its column, or `None` when there are more rows than columns.
pub fn max_assignment(score: &[f64], rows: usize, cols: usize) -> Vec<Option<usize>> {
    assert_eq!(score.len(), rows * cols, "max_assignment: score is not rows × cols");
    let n = rows.max(cols);
    // Square cost matrix to minimise; padding rows/columns cost nothing.
    let best = score.iter().copied().fold(0.0f64, f64::max);
    let cost = |i: usize, j: usize| if i < rows && j < cols { best - score[i * cols + j] } else { 0.0 };
    // Potentials u (rows), v (columns); way[j] = previous column on the augmenting path;
    // p[j] = row matched to column j (1-based, 0 = none), as in the classic e-maxx version.
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; n + 1]);
    let (mut p, mut way) = (vec![0usize; n + 1], vec![0usize; n + 1]);
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let (i0, mut delta, mut j1) = (p[j0], f64::INFINITY, 0);
            for j in 1..=n {
                if !used[j] {
                    let cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        while j0 != 0 {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        }
    }
    let mut out = vec![None; rows];
    for j in 1..=n {
        if p[j] >= 1 && p[j] <= rows && j <= cols {
            out[p[j] - 1] = Some(j - 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every permutation's total, for checking small cases exhaustively.
    fn brute(score: &[f64], n: usize) -> f64 {
        fn go(score: &[f64], n: usize, row: usize, used: &mut Vec<bool>) -> f64 {
            if row == n {
                return 0.0;
            }
            let mut best = f64::NEG_INFINITY;
            for j in 0..n {
                if !used[j] {
                    used[j] = true;
                    best = best.max(score[row * n + j] + go(score, n, row + 1, used));
                    used[j] = false;
                }
            }
            best
        }
        go(score, n, 0, &mut vec![false; n])
    }

    #[test]
    fn matches_brute_force_on_random_matrices() {
        let mut rng = crate::rng::Rng::new(5);
        for n in 1..=6 {
            for _ in 0..20 {
                let s: Vec<f64> = (0..n * n).map(|_| rng.uniform()).collect();
                let a = max_assignment(&s, n, n);
                let total: f64 = a.iter().enumerate().map(|(i, j)| s[i * n + j.unwrap()]).sum();
                assert!((total - brute(&s, n)).abs() < 1e-9, "n = {n}");
            }
        }
    }

    #[test]
    fn rectangular_leaves_extra_rows_unmatched() {
        // Rows 0 and 2 want column 0 most; row 2 wins it, row 0 takes column 1.
        let s = [0.9, 0.8, 0.1, 0.2, 1.0, 0.1];
        let a = max_assignment(&s, 3, 2);
        assert_eq!(a, [Some(1), None, Some(0)]);
    }
}
