//! Validation over the whole valid set.

use fastburn_vision::conv::autocast;

use crate::{EpochMetrics, Learner, LearnerData, LearnerError, LearnerModel};

impl<M: LearnerModel, D: LearnerData> Learner<M, D> {
    /// Computes the loss and every metric over the valid set in eval mode, each averaged over
    /// items (batch means weighted by batch size).
    ///
    /// Fails when the valid set is empty.
    pub fn validate(&self) -> Result<EpochMetrics, LearnerError> {
        let model = self.model.valid();
        let mut loss_sum = 0.0;
        let mut metric_sums = vec![0.0; self.metrics.len()];
        let mut count = 0usize;

        for batch in self.data.valid_batches(&self.device) {
            let batch = batch.map_err(|error| LearnerError::Data(error.to_string()))?;
            let batch_size = batch.targets.dims()[0];
            let output = autocast(self.precision.compute_dtype(), || model.forward(batch.images));

            let losses = self.loss.per_item(output.clone(), batch.targets.clone());
            loss_sum += losses.sum().into_scalar::<f32>() as f64;
            for (sum, metric) in metric_sums.iter_mut().zip(&self.metrics) {
                *sum += metric.batch_value(output.clone(), batch.targets.clone()) * batch_size as f64;
            }
            count += batch_size;
        }

        if count == 0 {
            return Err(LearnerError::invalid(
                "data",
                "the valid set is empty; validation needs at least one item",
            ));
        }
        Ok(EpochMetrics {
            valid_loss: loss_sum / count as f64,
            metrics: metric_sums.iter().map(|sum| sum / count as f64).collect(),
        })
    }
}
