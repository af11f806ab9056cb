use crossbeam_queue::ArrayQueue;
use polars_async::executor::{JoinHandle, TaskPriority, TaskScope};
use polars_async::primitives::wait_group::WaitGroup;
use polars_core::runtime::RAYON;
use polars_error::PolarsResult;
use polars_ooc::{MostRecentSpillContext, SpillFrame};
use polars_utils::itertools::Itertools;
use polars_utils::pl_str::PlSmallStr;
use rayon::prelude::*;

use crate::morsel::{Morsel, MorselSeq, SourceToken};
use crate::pipe::{PortReceiver, RecvPort, port_channel};

#[cfg(feature = "asof_join")]
pub mod asof_join;
pub mod cross_join;
pub mod equi_join;
pub mod in_memory;
pub mod merge_join;
#[cfg(feature = "iejoin")]
pub mod range_join;
#[cfg(feature = "semi_anti_join")]
pub mod semi_anti_join;
mod utils;

// If one side is this much bigger than the other side we'll always use the
// smaller side as the build side without checking cardinalities.
const LOPSIDED_SAMPLE_FACTOR: usize = 10;

// TODO: improve, generalize this, and move it away from here.
struct BufferedStream {
    morsels: ArrayQueue<(SpillFrame, MorselSeq)>,
    post_buffer_offset: MorselSeq,
    _spill_ctx: Option<MostRecentSpillContext>,
}

impl BufferedStream {
    pub fn new(name: PlSmallStr, morsels: Vec<Morsel>, start_offset: MorselSeq) -> Self {
        // Relabel so we can insert into parallel streams later.
        let mut seq = start_offset;
        let ctx = MostRecentSpillContext::new(name);
        let queue = ArrayQueue::new(morsels.len().max(1));
        for morsel in morsels {
            let sf = SpillFrame::new_blocking(morsel.into_df_blocking(), &ctx);
            queue.push((sf, seq)).unwrap();
            seq = seq.successor();
        }

        Self {
            morsels: queue,
            post_buffer_offset: seq,
            _spill_ctx: Some(ctx),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.morsels.is_empty()
    }

    #[allow(clippy::needless_lifetimes)]
    pub fn reinsert<'s, 'env>(
        &'s self,
        num_pipelines: usize,
        recv_port: Option<RecvPort<'_>>,
        scope: &'s TaskScope<'s, 'env>,
        join_handles: &mut Vec<JoinHandle<PolarsResult<()>>>,
    ) -> Option<Vec<PortReceiver>> {
        let receivers = if let Some(p) = recv_port {
            p.parallel().into_iter().map(Some).collect_vec()
        } else {
            (0..num_pipelines).map(|_| None).collect_vec()
        };

        let source_token = SourceToken::new();
        let mut out = Vec::new();
        for orig_recv in receivers {
            let (mut new_send, new_recv) = port_channel(None);
            out.push(new_recv);
            let source_token = source_token.clone();
            join_handles.push(scope.spawn_task(TaskPriority::High, async move {
                // Act like an InMemorySource node until cached morsels are consumed.
                let wait_group = WaitGroup::default();
                loop {
                    let Some((sf, seq)) = self.morsels.pop() else {
                        break;
                    };
                    let mut morsel = Morsel::new(sf, seq, source_token.clone());
                    morsel.set_consume_token(wait_group.token());
                    if new_send.send(morsel).await.is_err() {
                        return Ok(());
                    }
                    wait_group.wait().await;
                    // TODO: Unfortunately we can't actually stop here without
                    // re-buffering morsels from the stream that comes after.
                    // if source_token.stop_requested() {
                    //     break;
                    // }
                }

                if let Some(mut recv) = orig_recv {
                    while let Ok(mut morsel) = recv.recv().await {
                        if source_token.stop_requested() {
                            morsel.source_token().stop();
                        }
                        morsel.set_seq(morsel.seq().offset_by(self.post_buffer_offset));
                        if new_send.send(morsel).await.is_err() {
                            break;
                        }
                    }
                }
                Ok(())
            }));
        }
        Some(out)
    }
}

impl Default for BufferedStream {
    fn default() -> Self {
        Self {
            morsels: ArrayQueue::new(1),
            post_buffer_offset: MorselSeq::default(),
            _spill_ctx: None,
        }
    }
}

impl Drop for BufferedStream {
    fn drop(&mut self) {
        RAYON.install(|| {
            // Parallel drop as the state might be quite big.
            (0..self.morsels.len()).into_par_iter().for_each(|_| {
                drop(self.morsels.pop());
            });
        })
    }
}
