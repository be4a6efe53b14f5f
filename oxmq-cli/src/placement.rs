//! Where the benchmark's threads run: `--placement`.
//!
//! A throughput or latency run has four busy threads: the sending application thread, the I/O
//! thread of its context, the I/O thread of the receiving context and the receiving application
//! thread. On a machine with few CPUs, where the operating system puts them decides the figure:
//! a message handed between two threads on one CPU stays in that CPU's cache, one handed to
//! another CPU moves cache lines, and a sleeping thread on another CPU must be woken. Left to the
//! scheduler, the same binary then runs at one of several speeds from run to run. A placement
//! pins each thread to a CPU, so every run of a row measures the same arrangement, for oxmq and
//! libzmq alike.
//!
//! I/O threads are pinned through inheritance: both libraries start a context's I/O threads
//! from the thread that creates its first socket (libzmq) or binds or connects first (oxmq), and
//! a new thread starts with its creator's CPU set. The workload therefore pins the calling
//! thread to the I/O threads' CPU while it sets a side up, and then to the application thread's.
//!
//! The CPUs are the first two the process may run on (see `taskset`).

use std::sync::OnceLock;

/// Where the benchmark's threads run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Placement {
    /// Wherever the operating system puts them (no pinning).
    #[default]
    Os,
    /// Every thread on the first CPU.
    One,
    /// Each side on a CPU of its own: the sending thread and its I/O thread on the first CPU,
    /// the receiving thread and its I/O thread on the second.
    Paired,
    /// The application threads on the first CPU, the I/O threads on the second: every message
    /// crosses between CPUs on its way into and out of each I/O thread.
    Split,
    /// The sending thread and the receiving side's I/O thread on the first CPU, the sending
    /// side's I/O thread and the receiving thread on the second.
    Crossed,
}

/// A thread of a benchmark run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The thread that sends (PUSH, DEALER, PUB, the pinging side of a round trip).
    SenderApp,
    /// The I/O threads of the sending side's context.
    SenderIo,
    /// The thread that receives (PULL, ROUTER, the subscribers, the echoing side).
    ReceiverApp,
    /// The I/O threads of the receiving side's context.
    ReceiverIo,
}

impl Placement {
    /// The name `--placement` takes.
    pub fn name(self) -> &'static str {
        match self {
            Placement::Os => "os",
            Placement::One => "one",
            Placement::Paired => "paired",
            Placement::Split => "split",
            Placement::Crossed => "crossed",
        }
    }

    /// How many CPUs this placement uses (0: it pins nothing).
    fn cpus_needed(self) -> usize {
        match self {
            Placement::Os => 0,
            Placement::One => 1,
            Placement::Paired | Placement::Split | Placement::Crossed => 2,
        }
    }

    /// Checks that the process may run on enough CPUs for this placement.
    pub fn check(self) -> Result<(), String> {
        let have = allowed_cpus().len();
        let need = self.cpus_needed();
        if have < need {
            return Err(format!(
                "--placement {} needs {need} CPUs; this process may run on {have}",
                self.name()
            ));
        }
        Ok(())
    }

    /// Which of the two CPUs (0 or 1) `role` runs on, if this placement pins it.
    pub fn cpu_of(self, role: Role) -> Option<usize> {
        use Role::*;
        let cpu = match (self, role) {
            (Placement::Os, _) => return None,
            (Placement::One, _) => 0,
            (Placement::Paired, SenderApp | SenderIo) => 0,
            (Placement::Paired, ReceiverApp | ReceiverIo) => 1,
            (Placement::Split, SenderApp | ReceiverApp) => 0,
            (Placement::Split, SenderIo | ReceiverIo) => 1,
            (Placement::Crossed, SenderApp | ReceiverIo) => 0,
            (Placement::Crossed, SenderIo | ReceiverApp) => 1,
        };
        Some(cpu)
    }

    /// Pins the calling thread where `role` runs (nothing for [`Placement::Os`]). Call it in
    /// a thread of the run's own, never in one that outlives the run: a pinned thread stays
    /// pinned.
    ///
    /// # Panics
    ///
    /// When the process may not run on enough CPUs ([`check`](Self::check) first) or the
    /// system refuses the pinning.
    pub fn pin(self, role: Role) {
        let Some(index) = self.cpu_of(role) else {
            return;
        };
        let cpus = allowed_cpus();
        let core = *cpus
            .get(index)
            .unwrap_or_else(|| panic!("--placement {}: too few CPUs", self.name()));
        assert!(
            core_affinity::set_for_current(core),
            "--placement {}: cannot pin a thread to CPU {}",
            self.name(),
            core.id
        );
    }
}

/// The CPUs the process may run on, read once, before any thread is pinned.
fn allowed_cpus() -> &'static [core_affinity::CoreId] {
    static CPUS: OnceLock<Vec<core_affinity::CoreId>> = OnceLock::new();
    CPUS.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLES: [Role; 4] = [
        Role::SenderApp,
        Role::SenderIo,
        Role::ReceiverApp,
        Role::ReceiverIo,
    ];

    fn layout(placement: Placement) -> Vec<Option<usize>> {
        ROLES.iter().map(|&role| placement.cpu_of(role)).collect()
    }

    #[test]
    fn each_placement_puts_the_four_threads_as_named() {
        assert_eq!(layout(Placement::Os), [None; 4]);
        assert_eq!(layout(Placement::One), [Some(0); 4]);
        // Sender app, sender I/O, receiver app, receiver I/O.
        assert_eq!(
            layout(Placement::Paired),
            [Some(0), Some(0), Some(1), Some(1)]
        );
        assert_eq!(
            layout(Placement::Split),
            [Some(0), Some(1), Some(0), Some(1)]
        );
        assert_eq!(
            layout(Placement::Crossed),
            [Some(0), Some(1), Some(1), Some(0)]
        );
    }

    #[test]
    fn a_pinned_thread_runs_on_its_cpu_and_new_threads_inherit_it() {
        if Placement::One.check().is_err() {
            return;
        }
        let first = allowed_cpus()[0].id;
        std::thread::spawn(move || {
            Placement::One.pin(Role::SenderIo);
            // The kernel moves the thread at once; a thread it starts inherits the CPU set,
            // which is how the libraries' I/O threads get theirs.
            let here = std::thread::spawn(|| core_affinity::get_core_ids().unwrap_or_default())
                .join()
                .unwrap();
            assert_eq!(here.iter().map(|c| c.id).collect::<Vec<_>>(), [first]);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn os_placement_pins_nothing_and_needs_no_cpu() {
        assert!(Placement::Os.check().is_ok());
        let before = core_affinity::get_core_ids().unwrap_or_default();
        Placement::Os.pin(Role::SenderApp);
        assert_eq!(core_affinity::get_core_ids().unwrap_or_default(), before);
    }
}
