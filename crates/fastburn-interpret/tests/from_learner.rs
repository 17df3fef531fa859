//! from_learner on a tiny linear classifier over in-memory images: one prediction per validation
//! item, losses consistent with the probabilities, and item order checked against the labels.

use std::path::PathBuf;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use fastburn_interpret::{ClassificationInterpretation, InterpretError, ValidItems};
use fastburn_learner::{BatchIter, DataBatch, LayerGroup, Learner, LearnerData, LearnerModel};

const SIZE: usize = 4;
const CLASSES: usize = 3;

/// Logistic regression on the flattened pixels: the smallest model a learner accepts.
#[derive(Module, Debug)]
struct LinearNet {
    head: Linear,
}

impl LearnerModel for LinearNet {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head.forward(images.flatten(1, 3))
    }

    fn layer_groups(&self) -> Vec<LayerGroup> {
        let mut params = vec![self.head.weight.id];
        params.extend(self.head.bias.as_ref().map(|bias| bias.id));
        vec![LayerGroup { name: "head".into(), params, batch_norm_params: Vec::new() }]
    }
}

/// Seven validation images in batches of three, each filled with a value that depends on its
/// index, labelled `index % 3`.
struct GradientData {
    labels: Vec<usize>,
    /// Labels reported by `valid_item_files`, which a test may put out of order.
    listed_labels: Vec<usize>,
}

impl GradientData {
    fn new() -> Self {
        let labels: Vec<usize> = (0..7).map(|index| index % CLASSES).collect();
        Self { listed_labels: labels.clone(), labels }
    }

    fn batches(&self, device: &Device) -> BatchIter<'_> {
        let device = device.clone();
        let chunks: Vec<Vec<usize>> = (0..self.labels.len()).collect::<Vec<_>>().chunks(3).map(<[usize]>::to_vec).collect();
        Box::new(chunks.into_iter().map(move |chunk| {
            let n = chunk.len();
            let pixels: Vec<f32> =
                chunk.iter().flat_map(|&index| vec![index as f32 / 7.0 - 0.5; 3 * SIZE * SIZE]).collect();
            let targets: Vec<i64> = chunk.iter().map(|&index| self.labels[index] as i64).collect();
            Ok(DataBatch {
                images: Tensor::from_data(TensorData::new(pixels, [n, 3, SIZE, SIZE]), &device),
                targets: Tensor::<1, Int>::from_data(TensorData::new(targets, [n]), &device),
            })
        }))
    }
}

impl LearnerData for GradientData {
    fn classes(&self) -> Vec<String> {
        vec!["paper".into(), "rock".into(), "scissors".into()]
    }

    fn num_train_batches(&self) -> usize {
        3
    }

    fn num_valid_batches(&self) -> usize {
        3
    }

    fn train_batches(&self, _epoch: usize, device: &Device) -> BatchIter<'_> {
        self.batches(device)
    }

    fn valid_batches(&self, device: &Device) -> BatchIter<'_> {
        self.batches(device)
    }
}

impl ValidItems for GradientData {
    fn valid_item_files(&self) -> Vec<(PathBuf, usize)> {
        self.listed_labels.iter().enumerate().map(|(index, &label)| (PathBuf::from(format!("valid/{index}.png")), label)).collect()
    }
}

fn learner(data: GradientData) -> Learner<LinearNet, GradientData> {
    let device = Device::default();
    let model = LinearNet { head: LinearConfig::new(3 * SIZE * SIZE, CLASSES).init(&device) };
    let mut learner = Learner::with_cross_entropy(data, model, Vec::new()).unwrap();
    learner.show_progress = false;
    learner
}

#[test]
fn from_learner_covers_valid_set() {
    let interpretation = ClassificationInterpretation::from_learner(&learner(GradientData::new())).unwrap();

    assert_eq!(interpretation.len(), 7);
    assert_eq!(interpretation.classes(), &["paper", "rock", "scissors"]);
    assert_eq!(interpretation.targets(), &[0, 1, 2, 0, 1, 2, 0]);
    assert_eq!(interpretation.items()[4], PathBuf::from("valid/4.png"));

    // Cross-entropy of each item is -ln of the probability of its actual class.
    for index in 0..interpretation.len() {
        let target = interpretation.targets()[index];
        let expected = -interpretation.probs()[index][target].ln();
        let loss = interpretation.losses()[index];
        assert!((loss - expected).abs() < 1e-4, "item {index}: loss {loss}, -ln p = {expected}");
    }

    let total: usize = interpretation.confusion_matrix().iter().flatten().sum();
    assert_eq!(total, 7);
}

#[test]
fn from_learner_rejects_misordered_items() {
    let mut data = GradientData::new();
    data.listed_labels.swap(0, 1);
    let result = ClassificationInterpretation::from_learner(&learner(data));
    match result {
        Err(InterpretError::TargetMismatch { index, label, target, .. }) => {
            assert_eq!((index, label, target), (0, 1, 0));
        }
        other => panic!("expected TargetMismatch, got {other:?}"),
    }
}
