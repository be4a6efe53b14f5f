//! The tokio runtimes the pure-Rust peers run on in `vs-peers`.

/// How a tokio-based library is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// One current-thread runtime: the library's tasks and the application share one thread.
    CurrentThread,
    /// A multi-thread runtime with one worker: the application on the main thread, the
    /// library's tasks on the worker (the shape of libzmq's application + one I/O thread).
    OneWorker,
    /// tokio's default multi-thread runtime (one worker per CPU).
    MultiThread,
}

/// A runtime of `flavor`, with I/O and time enabled.
pub fn runtime(flavor: Flavor) -> tokio::runtime::Runtime {
    let mut builder = match flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::OneWorker => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(1);
            builder
        }
        Flavor::MultiThread => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all().build().expect("a tokio runtime")
}
