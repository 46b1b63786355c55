//! The registered task kinds: what may travel from rank 0 to a worker rank.
//!
//! mpi4py.futures pickles a reference to a function plus its arguments, and every worker must
//! be able to import that function (seed 002's "Gotchas": same packages everywhere, no lambdas).
//! Here a task is data: a variant of [`Task`] naming code compiled into the binary that every
//! rank runs, with its arguments (even a whole matrix) as fields. A function defined on the
//! spot cannot be sent, and the compiler says so, not a worker at run time:
//!
//! ```compile_fail,E0308
//! # fn client(pool: &examples_distributed::pool::Pool) {
//! // error[E0308]: mismatched types: expected `Task`, found closure
//! let future = pool.submit(|x: u64| x - 1);
//! # }
//! ```
//!
//! What compiles is a value naming a registered kind:
//!
//! ```
//! # fn client(pool: &examples_distributed::pool::Pool) {
//! use examples_distributed::task::Task;
//! let future = pool.submit(Task::Tiny(1));
//! # }
//! ```
//!
//! A [`Batch`] is the other way matrices travel: all of them in one buffer, which a static
//! round's `scatterv` cuts into one block per rank.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use shared::workloads::{matrix_batch, scrypt};

/// A task a worker rank (or rank 0, for the serial baseline) can run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Task {
    /// Seed 002's `hashlib.scrypt(password, salt=b"salt", n, r, p)`.
    Scrypt {
        /// The password.
        password: String,
        /// Cost parameters.
        params: scrypt::Params,
    },
    /// Seed 002's exercise: the singular values of one matrix. The matrix itself travels
    /// (row-major), as it would to another machine.
    Svd {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
        /// `rows * cols` values, row after row.
        data: Vec<f64>,
    },
    /// A task too small to be worth sending anywhere: returns `x + 1`.
    Tiny(u64),
    /// Several tasks in one message (`map(..., chunksize)`), run in order.
    Batch(Vec<Task>),
}

/// What a task returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Output {
    /// A scrypt digest, in hex as hashlib's `.hex()` prints it.
    Digest(String),
    /// Singular values, largest first.
    Singular(Vec<f64>),
    /// [`Task::Tiny`]'s result.
    Tiny(u64),
    /// A batch's outputs, in order.
    Batch(Vec<Output>),
}

impl Task {
    /// The SVD task of one matrix.
    pub fn svd(matrix: ArrayView2<'_, f64>) -> Self {
        let (rows, cols) = matrix.dim();
        Task::Svd {
            rows,
            cols,
            data: matrix.iter().copied().collect(),
        }
    }

    /// A short name for error messages, e.g. `scrypt("password 3")`.
    pub fn describe(&self) -> String {
        match self {
            Task::Scrypt { password, .. } => format!("scrypt({password:?})"),
            Task::Svd { rows, cols, .. } => format!("svd of a {rows}x{cols} matrix"),
            Task::Tiny(x) => format!("tiny({x})"),
            Task::Batch(tasks) => match tasks.first() {
                Some(first) => format!("a batch of {} from {}", tasks.len(), first.describe()),
                None => "an empty batch".to_owned(),
            },
        }
    }

    /// Runs the task here.
    pub fn run(&self) -> Result<Output, String> {
        match self {
            Task::Scrypt { password, params } => {
                Ok(Output::Digest(scrypt::hex_digest(password, params)))
            }
            Task::Svd { rows, cols, data } => {
                let a = ArrayView2::from_shape((*rows, *cols), data).map_err(|e| {
                    format!("a {rows}x{cols} matrix with {} values: {e}", data.len())
                })?;
                shared::linalg::singular_values(a)
                    .map(|s| Output::Singular(s.to_vec()))
                    .map_err(|e| format!("{e:#}"))
            }
            Task::Tiny(x) => Ok(Output::Tiny(x.wrapping_add(1))),
            Task::Batch(tasks) => tasks
                .iter()
                .map(Task::run)
                .collect::<Result<_, _>>()
                .map(Output::Batch),
        }
    }
}

/// The digests of scrypt outputs (anything else is shown as it is, so a mismatch is visible).
pub fn digests(outputs: Vec<Output>) -> Vec<String> {
    outputs
        .into_iter()
        .map(|o| match o {
            Output::Digest(d) => d,
            other => format!("{other:?}"),
        })
        .collect()
}

/// Singular values of SVD outputs (an empty row for anything else, so a mismatch is visible).
pub fn singular_rows(outputs: Vec<Output>) -> Vec<Vec<f64>> {
    outputs
        .into_iter()
        .map(|o| match o {
            Output::Singular(s) => s,
            _ => Vec::new(),
        })
        .collect()
}

/// A batch of matrices of possibly different shapes, stored one after the other: the buffer a
/// static round's `scatterv` sends from, and the matrices [`Task::svd`] sends one at a time.
#[derive(Debug, Clone)]
pub struct Batch {
    shapes: Vec<(usize, usize)>,
    offsets: Vec<usize>,
    data: Vec<f64>,
}

impl Batch {
    /// Groups of `k` random `m × n` matrices, in the order given.
    pub fn new(seed: u64, groups: &[(usize, usize, usize)]) -> Self {
        let mut b = Batch {
            shapes: Vec::new(),
            offsets: Vec::new(),
            data: Vec::new(),
        };
        for (g, &(k, m, n)) in groups.iter().enumerate() {
            let mats = matrix_batch(seed.wrapping_add(g as u64), k, m, n);
            for a in mats.outer_iter() {
                b.shapes.push((m, n));
                b.offsets.push(b.data.len());
                b.data.extend(a.iter());
            }
        }
        b
    }

    /// Number of matrices.
    pub fn len(&self) -> usize {
        self.shapes.len()
    }

    /// Size of the matrices' data in bytes.
    pub fn bytes(&self) -> usize {
        std::mem::size_of_val(&self.data[..])
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.shapes.is_empty()
    }

    /// `(rows, cols)` of every matrix, in order.
    pub fn shapes(&self) -> &[(usize, usize)] {
        &self.shapes
    }

    /// Every value, matrix after matrix, each row-major.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// Matrix `i`.
    pub fn matrix(&self, i: usize) -> ArrayView2<'_, f64> {
        let (m, n) = self.shapes[i];
        let at = self.offsets[i];
        ArrayView2::from_shape((m, n), &self.data[at..at + m * n]).expect("shapes and data agree")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_run_and_describe_themselves() {
        assert_eq!(Task::Tiny(41).run(), Ok(Output::Tiny(42)));
        let batch = Task::Batch(vec![Task::Tiny(1), Task::Tiny(2)]);
        assert_eq!(
            batch.run(),
            Ok(Output::Batch(vec![Output::Tiny(2), Output::Tiny(3)]))
        );
        assert_eq!(batch.describe(), "a batch of 2 from tiny(1)");
        let t = Task::Scrypt {
            password: "password 0".into(),
            params: scrypt::Params::QUICK,
        };
        let (_, known) = scrypt::known_hex(&scrypt::Params::QUICK).unwrap();
        assert_eq!(digests(vec![t.run().unwrap()]), [known[0]]);
        assert_eq!(digests(vec![Output::Tiny(1)]), ["Tiny(1)"]);
        assert_eq!(t.describe(), "scrypt(\"password 0\")");
    }

    #[test]
    fn an_svd_task_carries_its_matrix() {
        let m = ndarray::array![[3.0, 0.0], [0.0, 4.0], [0.0, 0.0]];
        let t = Task::svd(m.view());
        let bytes = crate::wire::encode(&t).unwrap();
        // Eight bytes per value, and a few for the shape.
        assert!(
            bytes.len() >= 6 * 8 && bytes.len() < 6 * 8 + 8,
            "{}",
            bytes.len()
        );
        let back: Task = crate::wire::decode(&bytes).unwrap();
        let rows = singular_rows(vec![back.run().unwrap()]);
        assert!((rows[0][0] - 4.0).abs() < 1e-12 && (rows[0][1] - 3.0).abs() < 1e-12);
        let bad = Task::Svd {
            rows: 2,
            cols: 2,
            data: vec![1.0],
        };
        assert!(bad.run().is_err(), "a torn matrix is an error, not a panic");
    }

    #[test]
    fn a_batch_keeps_every_matrix_whole() {
        let b = Batch::new(7, &[(2, 3, 2), (1, 2, 4)]);
        assert_eq!(b.len(), 3);
        assert_eq!(b.shapes(), [(3, 2), (3, 2), (2, 4)]);
        assert_eq!(b.data().len(), 2 * 6 + 8);
        assert_eq!(b.matrix(2).dim(), (2, 4));
        assert_eq!(
            b.matrix(1),
            matrix_batch(7, 2, 3, 2).index_axis(ndarray::Axis(0), 1)
        );
        assert_eq!(
            b.matrix(2),
            matrix_batch(8, 1, 2, 4).index_axis(ndarray::Axis(0), 0)
        );
    }
}
