//! `get_preds`: probabilities, targets and per-item losses over the valid set.

use burn::tensor::activation::softmax;

use fastburn_vision::conv::autocast;

use crate::{Learner, LearnerData, LearnerError, LearnerModel};

/// Predictions over the valid set, one entry per item in validation order (fastai's
/// `get_preds(with_loss=True)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Preds {
    /// Softmax probabilities of each item, one value per class.
    pub probs: Vec<Vec<f32>>,
    /// Target class index of each item.
    pub targets: Vec<usize>,
    /// Loss of each item (cross-entropy for the default loss).
    pub losses: Vec<f32>,
}

impl<M: LearnerModel, D: LearnerData> Learner<M, D> {
    /// Runs the model in eval mode over the whole valid set.
    pub fn get_preds(&self) -> Result<Preds, LearnerError> {
        let model = self.model.valid();
        let mut preds = Preds {
            probs: Vec::new(),
            targets: Vec::new(),
            losses: Vec::new(),
        };

        for batch in self.data.valid_batches(&self.device) {
            let batch = batch.map_err(|error| LearnerError::Data(error.to_string()))?;
            let [batch_size] = batch.targets.dims();
            let output = autocast(self.precision.compute_dtype(), || model.forward(batch.images));
            let [_, n_classes] = output.dims();

            let losses = self.loss.per_item(output.clone(), batch.targets.clone());
            preds.losses.extend(to_f32(losses.into_data())?);
            let probs = to_f32(softmax(output, 1).into_data())?;
            preds
                .probs
                .extend(probs.chunks(n_classes.max(1)).map(<[f32]>::to_vec).take(batch_size));
            let targets = batch
                .targets
                .into_data()
                .convert::<i64>()
                .try_to_vec::<i64>()
                .map_err(|error| LearnerError::Data(format!("reading targets failed: {error:?}")))?;
            preds.targets.extend(targets.into_iter().map(|target| target as usize));
        }
        Ok(preds)
    }
}

fn to_f32(data: burn::tensor::TensorData) -> Result<Vec<f32>, LearnerError> {
    data.convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|error| LearnerError::Data(format!("reading predictions failed: {error:?}")))
}
