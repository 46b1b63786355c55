//! What every rank but 0 does: say hello, then serve rank 0 until it says stop.
//!
//! A worker asks for work by being idle: its hello is its first request, and each result it
//! sends back is the next one (rank 0's pool gives a task only to a worker that has none, as
//! mpi4py.futures does). Between messages it waits politely ([`wire::poll`]), so an idle
//! worker costs almost no CPU while rank 0 runs a serial baseline.
//!
//! Rank 0 may also call every worker into a collective round (a static scatter/gather). What
//! a worker does in it is the lesson's code, not this loop's: [`serve`] decodes the round's
//! plan and hands it to the `round` its caller passed (`main.rs` passes
//! `scatter_gather::worker_side`).

use anyhow::bail;
use mpi::point_to_point::MatchedReceiveVec;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, Source};
use serde::de::DeserializeOwned;

use crate::wire::{
    self, ResultMsg, TAG_HELLO, TAG_RESULT, TAG_ROUND, TAG_STOP, TAG_TASK, TaskMsg, Timing,
};
use crate::world::{hello, set_current};

/// The worker's loop: runs tasks, and each collective round rank 0 announces (with plan `P`)
/// through `round`. Returns when rank 0 sends [`TAG_STOP`].
pub fn serve<P: DeserializeOwned>(
    comm: &SimpleCommunicator,
    panic_on_task: Option<u64>,
    mut round: impl FnMut(P) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let root = comm.process_at_rank(0);
    wire::send(&root, TAG_HELLO, &hello(comm.rank()))?;
    loop {
        let probed = wire::poll(|| root.immediate_matched_probe());
        match probed.1.tag() {
            TAG_TASK => {
                let task: TaskMsg = wire::receive(probed)?;
                let result = run(task, panic_on_task);
                wire::send(&root, TAG_RESULT, &result)?;
            }
            TAG_ROUND => round(wire::receive(probed)?)?,
            TAG_STOP => {
                let _ = probed.matched_receive_vec::<u8>();
                return Ok(());
            }
            tag => bail!("rank 0 sent a message with unknown tag {tag}"),
        }
    }
}

/// Runs one task, timing it on this rank's clocks.
pub fn run(msg: TaskMsg, panic_on_task: Option<u64>) -> ResultMsg {
    set_current(Some(format!("task {} ({})", msg.id, msg.task.describe())));
    let (output, timing) = Timing::of(|| {
        if panic_on_task == Some(msg.id) {
            panic!("injected failure (--panic-on-task {})", msg.id);
        }
        msg.task.run()
    });
    set_current(None);
    ResultMsg {
        id: msg.id,
        output,
        timing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{Output, Task};

    #[test]
    fn a_task_is_run_and_timed() {
        let r = run(
            TaskMsg {
                id: 3,
                task: Task::Tiny(9),
            },
            None,
        );
        assert_eq!(r.id, 3);
        assert_eq!(r.output, Ok(Output::Tiny(10)));
        assert!(r.timing.end_unix_s >= r.timing.start_unix_s && r.timing.cpu_s >= 0.0);
    }

    #[test]
    fn the_injected_failure_names_the_task() {
        let caught = std::panic::catch_unwind(|| {
            run(
                TaskMsg {
                    id: 5,
                    task: Task::Tiny(0),
                },
                Some(5),
            )
        });
        let payload = caught.unwrap_err();
        let msg = shared::executor::panic_message(payload.as_ref());
        assert!(msg.contains("--panic-on-task 5"), "{msg}");
        set_current(None);
    }
}
