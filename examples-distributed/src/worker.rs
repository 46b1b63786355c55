//! What every rank but 0 does: say hello, then serve rank 0 until it says stop.
//!
//! A worker asks for work by being idle: its hello is its first request, and each result it
//! sends back is the next one (rank 0's pool gives a task only to a worker that has none, as
//! mpi4py.futures does). Between messages it waits politely ([`wire::poll`]), so an idle
//! worker costs almost no CPU while rank 0 runs a serial baseline.

use anyhow::bail;
use mpi::point_to_point::MatchedReceiveVec;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, Source};
use shared::spans::unix_now_s;
use shared::timing::CpuTime;

use crate::wire::{
    self, Phase, ResultMsg, TAG_HELLO, TAG_PHASE, TAG_RESULT, TAG_STOP, TAG_TASK, TaskMsg,
};
use crate::world::{hello, set_current};

/// The worker's loop. Returns when rank 0 sends [`TAG_STOP`].
pub fn serve(comm: &SimpleCommunicator, panic_on_task: Option<u64>) -> anyhow::Result<()> {
    let rank = comm.rank();
    let root = comm.process_at_rank(0);
    wire::send(&root, TAG_HELLO, &hello(rank))?;
    loop {
        let probed = wire::poll(|| root.immediate_matched_probe());
        match probed.1.tag() {
            TAG_TASK => {
                let task: TaskMsg = wire::receive(probed)?;
                let result = run(task, panic_on_task);
                wire::send(&root, TAG_RESULT, &result)?;
            }
            TAG_PHASE => match wire::receive::<Phase>(probed)? {
                Phase::Static(plan) => crate::scatter_gather::worker_part(comm, &plan)?,
            },
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
    let (start_unix_s, cpu) = (unix_now_s(), CpuTime::now());
    set_current(Some(format!("task {} ({})", msg.id, msg.task.describe())));
    if panic_on_task == Some(msg.id) {
        panic!("injected failure (--panic-on-task {})", msg.id);
    }
    let output = msg.task.run();
    set_current(None);
    ResultMsg {
        id: msg.id,
        output,
        start_unix_s,
        end_unix_s: unix_now_s(),
        cpu_s: CpuTime::now().own_s - cpu.own_s,
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
        assert!(r.end_unix_s >= r.start_unix_s && r.cpu_s >= 0.0);
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
