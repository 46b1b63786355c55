//! Every workload of the tutorials, defined once, seeded, sized like the tutorials by default.
//!
//! Sleeps are given in the tutorials' seconds; callers multiply them by `--scale`
//! (see [`CommonArgs::tutorial_sleep`](crate::CommonArgs::tutorial_sleep)). Random inputs come from
//! [`rng`]: a seed plus a stream number, so that task 7 gets the same numbers whichever
//! thread, process or order runs it.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded generator for one stream of a workload (e.g. one task, one matrix).
pub fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Sleeps for `secs` tutorial seconds times `scale`.
pub fn sleep_scaled(secs: f64, scale: f64) {
    std::thread::sleep(Duration::from_secs_f64(secs * scale));
}

/// Seed 000's `compute_x`: sleeps 0.8 s and returns `(x, y)`.
pub mod compute_x {
    /// The sleep of one call, in tutorial seconds.
    pub const SLEEP_S: f64 = 0.8;
    /// `y`'s default.
    pub const DEFAULT_Y: u64 = 2;
    /// The `y` the tutorial binds with `functools.partial(compute_x, y=3)`.
    pub const PARTIAL_Y: u64 = 3;

    /// The tutorial's `list_to_iterate`: 1 to 10.
    pub fn inputs() -> Vec<u64> {
        (1..=10).collect()
    }

    /// `compute_x(x, y)`: sleeps 0.8 s × `scale`, returns `(x, y)`.
    pub fn compute_x(x: u64, y: u64, scale: f64) -> (u64, u64) {
        super::sleep_scaled(SLEEP_S, scale);
        (x, y)
    }
}

/// Seed 001's `fake_runtimes`, in seconds.
pub const FAKE_RUNTIMES_S: [f64; 5] = [5.0, 2.0, 4.0, 1.0, 5.0];

/// Seed 002's scrypt batch: `hashlib.scrypt(password, salt=b"salt", n=2**7, r=2**10, p=2**5)`.
pub mod scrypt {
    /// scrypt's cost parameters and digest length.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    pub struct Params {
        /// log2 of N, the CPU/memory cost.
        pub log_n: u8,
        /// Block size.
        pub r: u32,
        /// Parallelisation factor (computed one after the other by both hashlib and the crate).
        pub p: u32,
        /// Digest length in bytes (hashlib's default is 64).
        pub len: usize,
    }

    impl Params {
        /// The tutorial's parameters: n = 2^7, r = 2^10, p = 2^5, 64-byte digest.
        pub const TUTORIAL: Params = Params {
            log_n: 7,
            r: 1 << 10,
            p: 1 << 5,
            len: 64,
        };
        /// A cheaper setting for `--quick` (digests then differ from the tutorial's).
        pub const QUICK: Params = Params {
            log_n: 7,
            r: 1 << 8,
            p: 2,
            len: 64,
        };
    }

    /// The tutorial's salt.
    pub const SALT: &[u8] = b"salt";
    /// The single password hashed first.
    pub const MY_PASSWORD: &str = "my password";
    /// `hashlib.scrypt(b"my password", salt=b"salt", n=2**7, r=2**10, p=2**5).hex()`,
    /// computed with CPython 3.11's hashlib (OpenSSL).
    pub const MY_PASSWORD_HEX: &str = "5e2c846158bd667c38099c9d27eb8990d4632151ebea95de18ebe407d823d17205369f2d5e4a964efbbc1b774d944662ffd23a2befa59cb815645c4b4dd70d3f";
    /// The same for `password 0` .. `password 7`.
    pub const PASSWORDS_HEX: [&str; 8] = [
        "5f308fea22a0797f3d87f09b07072332c2c0bc633f313ab9b04b43e4409fd1f2bdc75cac59920f52118b6b7a3f7556efe25321623f60d691ab7d3372b357c442",
        "9afbe721cf04db67294ea07f9e2c33fb64a9f5cc579a1b4fde2960d872f661095a2c7330935045d37ee7d1f93624dffac8ddccf06d23135a2cba8553d310e788",
        "b7fa1a7f06edb1cbbec0cd671660dba5e0104e3d1c399fac74515d1851c9cd40a758e1b1047037f82c0d0fac8eabbf54bde3b523b9904cd2dd88c157c1c54899",
        "39ed885d42d9fc5666e3ebfb9cf0fedec410b725faa4854382efaa403f43dfe99528d499a574fc1db3a5a75d721095df0aa48f2eb3e5149e3d22aa282958a2bf",
        "dbd3058de9d446a0c1cee7a1c7772ffab8c0a1295a924e6755c50b1c242811cabf7bd591d56d1ff685f04a2fe46455e97277fd44aeb5528a25bb500a4e4232d6",
        "a9b68ee508c05721fb352f345f11e313ffc469454efca6babbfd4d61f6791b17cda8b0da784c448a4014788f13b90569903a7103a817b6b999aecafee4c5bf67",
        "f9459b792f3ca7925376cb75b7ae30b4eb99fa306e14e000609214468e74bfa9237185b3048e304f609079ff60c40bf5ed3b907332920f8f2c7e971ed91f8a11",
        "d30f32aea33faa97aeb214f294436c8313cc7ffe988af534e6663653341134af567a2905101e7d40a2909a04fa5bc3c4a4e169a0f4af7f40c0494a70c6b948cf",
    ];

    /// `hashlib.scrypt(b"my password", salt=b"salt", n=2**7, r=2**8, p=2).hex()`, i.e. with
    /// [`Params::QUICK`], computed with CPython 3.11.7's hashlib (OpenSSL 3.0), so that
    /// `--quick` runs are checked against Python too.
    pub const QUICK_MY_PASSWORD_HEX: &str = "5353a8339649e337db12b9840984b0722bd01072c365e5d7c4c9773ff9347ed789a006ea16e0da0fbdef9ad6cd8b6b98695dbe99893d52a131930ab5b80b4523";
    /// The same for `password 0` .. `password 7`, with [`Params::QUICK`].
    pub const QUICK_PASSWORDS_HEX: [&str; 8] = [
        "be7dc0828be5e5ae713b8b1d6e09d7228ee6ab44d0ebfa9262e6f24f19ff4ca0224c6e0d5f4b0ad04591ffda36aae18fc4cd25f702ba7abb0da7356c5b5fab26",
        "4227d16886eda5da351dec115e0f5af340c687aef5962e180404c73503cc480c6c71b059763f686fd86315814382d64841de8be3ecc4e920893dca267517b4d7",
        "ebd6a8232862fc25b2370325880691b1da393966f4d7155954ebabd25b02d995e93ce5027493f7ff7aa06c17b086d8ddb5705b4fee70ebd9e887fce9e74ec08c",
        "71ae9ad793d2260881e8224624833bf228532c271c59d40d7ca30d174882977a7573f40aad5c1d4edbbe5fedc9d103c101f16c5a5eda5d586d3a3a65aa27a7f1",
        "b7f573e70c2c2a0b1afd1934ebbf53b9d6d30340041fe0ccb8a63a9704982772357d81c90c9ceaafaaeb44db5c7b1c80b23492c207d7275367e0c13f0076264a",
        "135807ea68cd9ab1bf193955ae71634245a9d28b3ff15d98f62b3f510dcc899c0b3655c64238c493397eb7d06809d8561bbc680d7622267844b3fbeb23341f96",
        "d9050eb174130f000507dd3e8848989040c97594754bca57e3b07b907706d69582fd2754bb966132ca7b8fcf157f6e02da14e71944f5c50d83a69766c2f0d7c2",
        "eaf43579edabe1b9511827db760b859658b4883e990575d550074765a1655a421aec377585f59b3ac74e4462686419538b7a5b6d25c1a082539fd33aa98dd84d",
    ];

    /// hashlib's hex digests for `params`, when known: `(my password, [password 0..7])` for
    /// [`Params::TUTORIAL`] and [`Params::QUICK`], `None` for any other setting.
    pub fn known_hex(params: &Params) -> Option<(&'static str, [&'static str; 8])> {
        if *params == Params::TUTORIAL {
            Some((MY_PASSWORD_HEX, PASSWORDS_HEX))
        } else if *params == Params::QUICK {
            Some((QUICK_MY_PASSWORD_HEX, QUICK_PASSWORDS_HEX))
        } else {
            None
        }
    }

    impl Params {
        /// The tutorial's parameters, or [`Params::QUICK`] under `--quick`.
        pub fn for_run(c: &crate::CommonArgs) -> Params {
            c.size(Params::TUTORIAL, Params::QUICK)
        }

        /// The workload's name in a section's header, e.g. `scrypt of 8 passwords (n=2^7,
        /// r=1024, p=32, salt "salt", 64-byte digest)`.
        pub fn describe(&self, passwords: usize) -> String {
            format!(
                "scrypt of {passwords} passwords (n=2^{}, r={}, p={}, salt \"salt\", {}-byte digest)",
                self.log_n, self.r, self.p, self.len
            )
        }
    }

    /// What hashlib says of a batch of hex digests of `password 0`, `password 1`, ...:
    /// `Some(true)` when every one equals hashlib's, `Some(false)` when any differs or the
    /// batch has more than the 8 known, `None` when hashlib's digests for `params` are unknown.
    pub fn batch_matches_hashlib(params: &Params, batch: &[String]) -> Option<bool> {
        let (_, known) = known_hex(params)?;
        Some(batch.len() <= known.len() && batch.iter().zip(known).all(|(a, b)| a == b))
    }

    /// The same for the single digest of [`MY_PASSWORD`].
    pub fn mine_matches_hashlib(params: &Params, hex: &str) -> Option<bool> {
        known_hex(params).map(|(mine, _)| mine == hex)
    }

    /// One digest as hashlib's `.hex()` prints it.
    pub fn hex_digest(password: &str, params: &Params) -> String {
        hex::encode(digest(password.as_bytes(), params))
    }

    /// The tutorial's passwords: `password 0` .. `password {n-1}` (it uses 8).
    pub fn passwords(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("password {i}")).collect()
    }

    /// One scrypt digest (native work: no lock of ours is held while it runs).
    pub fn digest(password: &[u8], params: &Params) -> Vec<u8> {
        let p = ::scrypt::Params::new(params.log_n, params.r, params.p, params.len)
            .expect("the workload's scrypt parameters are valid");
        let mut out = vec![0u8; params.len];
        ::scrypt::scrypt(password, SALT, &p, &mut out).expect("output length matches params");
        out
    }
}

/// Seed 004's `service_request`: 5 iterations of (blocking sleep of U[0, 1) s, then an FFT
/// of 4,000,000 random values), for 10 requests.
pub mod service {
    use rand::Rng;
    use rustfft::FftPlanner;
    use rustfft::num_complex::Complex64;

    /// Sizes and the seeded sleeps of one run of the toy problem.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Workload {
        /// Number of requests (10).
        pub requests: usize,
        /// Iterations per request (5).
        pub iterations: usize,
        /// FFT length (4,000,000).
        pub fft_len: usize,
        /// `sleeps_s[request][iteration]`, in tutorial seconds, uniform in [0, 1).
        pub sleeps_s: Vec<Vec<f64>>,
        seed: u64,
    }

    impl Workload {
        /// The talk's sizes: 10 requests × 5 iterations, FFT of 4,000,000 points.
        pub fn tutorial(seed: u64) -> Self {
            Self::new(seed, 10, 5, 4_000_000)
        }

        /// A small version for `--quick`.
        pub fn quick(seed: u64) -> Self {
            Self::new(seed, 4, 2, 1 << 16)
        }

        /// Any size.
        pub fn new(seed: u64, requests: usize, iterations: usize, fft_len: usize) -> Self {
            let mut rng = super::rng(seed, 0);
            let sleeps_s = (0..requests)
                .map(|_| (0..iterations).map(|_| rng.random::<f64>()).collect())
                .collect();
            Self {
                requests,
                iterations,
                fft_len,
                sleeps_s,
                seed,
            }
        }

        /// The random input of one iteration (generating it is part of the CPU work, as in
        /// the talk's `np.random.random(4000000)`).
        pub fn fft_input(&self, request: usize, iteration: usize) -> Vec<Complex64> {
            let stream = 1 + (request * self.iterations + iteration) as u64;
            let mut rng = super::rng(self.seed, stream);
            (0..self.fft_len)
                .map(|_| Complex64::new(rng.random::<f64>(), 0.0))
                .collect()
        }

        /// The CPU part of one iteration: generate the input and run a forward FFT. Returns
        /// the magnitude of the first non-constant coefficient, so variants can be compared.
        pub fn cpu_step(&self, request: usize, iteration: usize) -> f64 {
            let mut data = self.fft_input(request, iteration);
            fft_forward(&mut data);
            data.get(1).map_or(0.0, |c| c.norm())
        }

        /// Sum of request `request`'s sleeps, in tutorial seconds.
        pub fn request_sleep_s(&self, request: usize) -> f64 {
            self.sleeps_s[request].iter().sum()
        }

        /// The longest request's sleeps, in tutorial seconds: no schedule can beat it.
        pub fn longest_sleep_s(&self) -> f64 {
            (0..self.requests)
                .map(|r| self.request_sleep_s(r))
                .fold(0.0, f64::max)
        }
    }

    /// In-place forward FFT with rustfft's planner (which picks AVX/SSE at run time).
    pub fn fft_forward(data: &mut [Complex64]) {
        let fft = FftPlanner::<f64>::new().plan_fft_forward(data.len());
        fft.process(data);
    }
}

/// Seed 002's exercise: a batch of `k` random `m × n` matrices in one array, like
/// `np.random.sample(size=(k, m, n))` (uniform in [0, 1)).
pub fn matrix_batch(seed: u64, k: usize, m: usize, n: usize) -> ndarray::Array3<f64> {
    let mut rng = rng(seed, 0);
    ndarray::Array3::from_shape_simple_fn((k, m, n), || rng.random::<f64>())
}

/// Largest difference between two sets of singular values (rows of numbers), each row
/// relative to the largest magnitude of its row in `b`: the scale at which an SVD rounds. A
/// missing row, or a row of another length, counts as infinitely far.
pub fn max_rel_diff_rows<'a, R>(
    a: impl IntoIterator<Item = R>,
    b: impl IntoIterator<Item = R>,
) -> f64
where
    R: IntoIterator<Item = &'a f64>,
{
    let (mut a, mut b) = (a.into_iter(), b.into_iter());
    let mut worst = 0.0_f64;
    loop {
        let (ra, rb) = match (a.next(), b.next()) {
            (None, None) => return worst,
            (Some(ra), Some(rb)) => (ra, rb),
            _ => return f64::INFINITY,
        };
        let ra: Vec<f64> = ra.into_iter().copied().collect();
        let rb: Vec<f64> = rb.into_iter().copied().collect();
        if ra.len() != rb.len() {
            return f64::INFINITY;
        }
        let scale = rb
            .iter()
            .fold(0.0_f64, |m, v| m.max(v.abs()))
            .max(f64::MIN_POSITIVE);
        worst = ra
            .iter()
            .zip(&rb)
            .map(|(x, y)| (x - y).abs() / scale)
            .fold(worst, f64::max);
    }
}

/// One task of seed 001's message-queue example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueTask {
    /// Task id: 0..=14, then 100..=110.
    pub id: u64,
    /// Task time in tutorial seconds.
    pub secs: u64,
}

/// Seed 001's queue: 15 tasks of 1-5 s (ids 0..=14), then 11 tasks of 2-6 s (ids 100..=110).
pub fn queue_tasks(seed: u64) -> Vec<QueueTask> {
    let mut rng = rng(seed, 0);
    let first = (0..15).map(|id| QueueTask {
        id,
        secs: rng.random_range(1..=5),
    });
    let first: Vec<_> = first.collect();
    let second = (100..=110).map(|id| QueueTask {
        id,
        secs: rng.random_range(2..=6),
    });
    first.into_iter().chain(second).collect()
}

/// Seed 001's CSV: rows `line,data,<i>` for i in 0..rows (the tutorial writes 10,000,000).
pub mod csv_file {
    use std::io::{BufWriter, Write};
    use std::path::Path;

    /// The tutorial's row count.
    pub const ROWS: u64 = 10_000_000;

    /// Writes the file (no header row: the tutorial writes none either).
    pub fn write(path: &Path, rows: u64) -> std::io::Result<()> {
        let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        for i in 0..rows {
            writeln!(w, "line,data,{i}")?;
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    }

    /// Sum of the last column of a file of `rows` rows.
    pub fn expected_sum(rows: u64) -> u64 {
        rows * rows.saturating_sub(1) / 2
    }
}

/// Seed 000's wiki pages (one does not exist) and seed 003's image downloads.
pub mod web {
    /// The four pages, in the tutorial's order.
    pub const WIKI_PAGES: [&str; 4] = ["Ocean", "Island", "this_page_does_not_exist", "Shark"];
    /// The pages the embedded server knows.
    pub const EXISTING_PAGES: [&str; 3] = ["Ocean", "Island", "Shark"];
    /// How many times seed 003 downloads its image.
    pub const IMAGE_DOWNLOADS: usize = 20;
    /// Size of the embedded server's image.
    pub const IMAGE_BYTES: usize = 1 << 20;

    /// `<base>/wiki/<page>` for the four pages.
    pub fn wiki_urls(base: &str) -> Vec<String> {
        WIKI_PAGES
            .iter()
            .map(|p| format!("{}/wiki/{p}", base.trim_end_matches('/')))
            .collect()
    }

    /// `<base>/image`.
    pub fn image_url(base: &str) -> String {
        format!("{}/image", base.trim_end_matches('/'))
    }

    /// The image's bytes: a fixed pseudo-random pattern, so a download can be verified.
    pub fn image_body() -> &'static [u8] {
        static BODY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        BODY.get_or_init(|| {
            use rand::RngCore;
            let mut bytes = vec![0u8; IMAGE_BYTES];
            super::rng(0x1ea6e, 0).fill_bytes(&mut bytes);
            bytes
        })
    }

    /// What seed 000's `get_wiki_page_existence` reports for a status code.
    pub fn existence(status: u16) -> &'static str {
        match status {
            200 => "exists",
            404 => "does not exist",
            _ => "unknown",
        }
    }

    /// What one existence check found, whichever client (blocking or async) made it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PageStatus {
        /// The page asked for.
        pub url: String,
        /// `exists`, `does not exist` or `unknown`.
        pub status: &'static str,
        /// Why it is `unknown`: the HTTP status, a timeout, a refused connection.
        pub reason: Option<String>,
    }

    impl PageStatus {
        /// Classifies the outcome of a GET of `url`: 200 is `exists`, 404 `does not exist`,
        /// anything else, including no answer at all, `unknown` with the reason. The tutorial
        /// lets a refused connection raise; here it is an answer like any other.
        pub fn of(url: &str, outcome: Result<u16, &reqwest::Error>) -> Self {
            let (status, reason) = match outcome {
                Ok(code) => {
                    let status = existence(code);
                    (
                        status,
                        (status == "unknown").then(|| format!("HTTP {code}")),
                    )
                }
                Err(e) if e.is_timeout() => ("unknown", Some("timed out".to_owned())),
                Err(e) if e.is_connect() => (
                    "unknown",
                    Some(format!("cannot connect: {}", root_cause(e))),
                ),
                Err(e) => ("unknown", Some(root_cause(e))),
            };
            Self {
                url: url.to_owned(),
                status,
                reason,
            }
        }

        /// The tutorial's line: `<url> - <status>`.
        pub fn line(&self) -> String {
            format!("{} - {}", self.url, self.status)
        }
    }

    impl std::fmt::Display for PageStatus {
        /// The tutorial's line, and the reason when there is one.
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}", self.line())?;
            match &self.reason {
                Some(why) => write!(f, " ({why})"),
                None => Ok(()),
            }
        }
    }

    /// The innermost error of a chain: "Connection refused (os error 111)" rather than
    /// "error sending request".
    pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
        let mut inner = e;
        while let Some(source) = inner.source() {
            inner = source;
        }
        inner.to_string()
    }
}
