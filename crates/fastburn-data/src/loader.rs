//! Batches of an epoch, prepared by worker threads ahead of the training loop.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::seq::SliceRandom;

use crate::bunch::{Pipeline, VALID_EPOCH};
use crate::scan::Item;
use crate::seed::{SHUFFLE_STREAM, rng_for};
use crate::{DataError, ImageDataBunch};

/// A batch of images with their labels.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The images, `[B, 3, size, size]`, normalized when the DataBunch has statistics.
    pub images: Tensor<4>,
    /// The class indices, `[B]`.
    pub targets: Tensor<1, Int>,
    /// The index of each image in its dataset (`train_items()` or `valid_items()`).
    pub indices: Vec<usize>,
}

/// How many finished batches each worker may queue before it waits for the consumer. With
/// `n` workers, at most `2 n` batches are in memory ahead of the training loop.
const QUEUED_BATCHES_PER_WORKER: usize = 1;

/// The plan of one pass over a dataset: which items go into which batch, and how to prepare
/// them.
#[derive(Debug)]
pub(crate) struct EpochPlan {
    pub items: Arc<Vec<Item>>,
    /// Dataset indices in visiting order.
    pub order: Vec<usize>,
    pub batch_size: usize,
    pub num_batches: usize,
    pub pipeline: Pipeline,
    pub epoch: u64,
}

/// A batch on the CPU, before it becomes tensors.
struct CpuBatch {
    images: Vec<f32>,
    targets: Vec<i64>,
    indices: Vec<usize>,
}

impl EpochPlan {
    fn build_batch(&self, batch: usize) -> Result<CpuBatch, DataError> {
        let start = batch * self.batch_size;
        let end = (start + self.batch_size).min(self.order.len());
        let indices = self.order[start..end].to_vec();

        let mut images = Vec::with_capacity(indices.len() * 3 * self.pipeline.size.pow(2));
        let mut targets = Vec::with_capacity(indices.len());
        for &index in &indices {
            let item = &self.items[index];
            images.extend(self.pipeline.process(&item.path, self.epoch, index)?);
            targets.push(item.label as i64);
        }
        Ok(CpuBatch {
            images,
            targets,
            indices,
        })
    }
}

/// The batches of one epoch, in order. Created by [`ImageDataBunch::train_batches`] and
/// [`ImageDataBunch::valid_batches`].
///
/// Worker threads decode and augment whole batches ahead of consumption. Batch `k` is
/// prepared by worker `k mod n`, so the order and content do not depend on thread timing.
/// Dropping the iterator stops the workers.
pub struct BatchIter {
    plan: Arc<EpochPlan>,
    device: Device,
    next_batch: usize,
    receivers: Vec<Receiver<Result<CpuBatch, DataError>>>,
    workers: Vec<JoinHandle<()>>,
}

impl BatchIter {
    fn new(plan: EpochPlan, device: &Device, num_workers: usize) -> Self {
        let plan = Arc::new(plan);
        let num_workers = num_workers.min(plan.num_batches);
        let mut receivers = Vec::with_capacity(num_workers);
        let mut workers = Vec::with_capacity(num_workers);

        for worker in 0..num_workers {
            let (sender, receiver) = sync_channel(QUEUED_BATCHES_PER_WORKER);
            let plan = Arc::clone(&plan);
            let handle = std::thread::Builder::new()
                .name(format!("fastburn-data-{worker}"))
                .spawn(move || run_worker(&plan, worker, num_workers, &sender));
            match handle {
                Ok(handle) => {
                    receivers.push(receiver);
                    workers.push(handle);
                }
                Err(error) => {
                    // Fewer workers only cost speed, so a failed spawn is not fatal.
                    log::warn!("failed to start data loader worker {worker}: {error}");
                    break;
                }
            }
        }

        BatchIter {
            plan,
            device: device.clone(),
            next_batch: 0,
            receivers,
            workers,
        }
    }

    /// The number of batches this iterator yields in total.
    pub fn num_batches(&self) -> usize {
        self.plan.num_batches
    }

    fn next_cpu_batch(&mut self, batch: usize) -> Result<CpuBatch, DataError> {
        if self.receivers.is_empty() {
            return self.plan.build_batch(batch);
        }
        let receiver = &self.receivers[batch % self.receivers.len()];
        receiver
            .recv()
            .unwrap_or(Err(DataError::WorkerPanicked { batch }))
    }
}

fn run_worker(
    plan: &EpochPlan,
    worker: usize,
    num_workers: usize,
    sender: &SyncSender<Result<CpuBatch, DataError>>,
) {
    for batch in (worker..plan.num_batches).step_by(num_workers) {
        let result = plan.build_batch(batch);
        if sender.send(result).is_err() {
            // The iterator was dropped, so the remaining batches are not needed.
            return;
        }
    }
}

impl Iterator for BatchIter {
    type Item = Result<Batch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next_batch >= self.plan.num_batches {
            return None;
        }
        let batch = self.next_batch;
        self.next_batch += 1;

        let cpu = match self.next_cpu_batch(batch) {
            Ok(cpu) => cpu,
            Err(error) => return Some(Err(error)),
        };

        // Only this final step touches the device; everything before ran on plain vectors.
        let count = cpu.indices.len();
        let size = self.plan.pipeline.size;
        let images = TensorData::new(cpu.images, [count, 3, size, size]);
        let targets = TensorData::new(cpu.targets, [count]);
        Some(Ok(Batch {
            images: Tensor::from_data(images, &self.device),
            targets: Tensor::from_data(targets, &self.device),
            indices: cpu.indices,
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.plan.num_batches - self.next_batch;
        (left, Some(left))
    }
}

impl ExactSizeIterator for BatchIter {}

impl Drop for BatchIter {
    fn drop(&mut self) {
        // Closing the channels makes blocked workers return; then wait for them.
        self.receivers.clear();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl ImageDataBunch {
    /// Returns the training batches of `epoch` on `device`: shuffled with `(seed, epoch)`,
    /// augmented with the training transforms, the last partial batch dropped.
    pub fn train_batches(&self, epoch: usize, device: &Device) -> BatchIter {
        let order = self.train_order(epoch);
        let plan = EpochPlan {
            items: Arc::clone(&self.train),
            order,
            batch_size: self.batch_size,
            num_batches: self.num_train_batches(),
            pipeline: self.pipeline(true),
            epoch: epoch as u64,
        };
        BatchIter::new(plan, device, self.num_workers)
    }

    /// Returns the training set's dataset indices in the order of `epoch`.
    pub fn train_order(&self, epoch: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.train.len()).collect();
        order.shuffle(&mut rng_for(self.seed, SHUFFLE_STREAM, epoch as u64, 0));
        order
    }

    /// Returns the validation batches on `device`: every item in order, with the validation
    /// transforms; the last batch may be smaller.
    pub fn valid_batches(&self, device: &Device) -> BatchIter {
        let plan = EpochPlan {
            items: Arc::clone(&self.valid),
            order: (0..self.valid.len()).collect(),
            batch_size: self.batch_size,
            num_batches: self.num_valid_batches(),
            pipeline: self.pipeline(false),
            epoch: VALID_EPOCH,
        };
        BatchIter::new(plan, device, self.num_workers)
    }
}
