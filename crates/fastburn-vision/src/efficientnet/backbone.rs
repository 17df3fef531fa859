//! EfficientNet-Lite0 as a `create_cnn` backbone: input statistics and layer groups.

use fastburn_data::NormStats;

use super::model::EfficientNetLite;
use crate::layer_groups::LayerGroup;

/// Input normalization of the TensorFlow Lite0 checkpoints, `(x - 127) / 128` on 0..255,
/// written for images scaled to 0..1 as fastburn-data produces them.
pub const LITE0_NORM_STATS: NormStats = NormStats {
    mean: [127.0 / 255.0; 3],
    std: [128.0 / 255.0; 3],
};

impl EfficientNetLite {
    /// Splits the network into fastai's two body layer groups: the stem with the first half
    /// of the MBConv blocks, then the second half with the head convolution.
    ///
    /// The classifier `_fc`, present only outside `create_cnn`, joins the second group, so
    /// every trainable parameter is in exactly one group.
    pub fn layer_groups(&self) -> [LayerGroup; 2] {
        let half = self._blocks.len() / 2;

        let mut early = LayerGroup::new(format!("body: stem..block {}", half - 1));
        early.add(&self._conv_stem);
        early.add(&self._bn0);
        for block in &self._blocks[..half] {
            early.add(block);
        }

        let mut late = LayerGroup::new(format!("body: block {half}..head conv"));
        for block in &self._blocks[half..] {
            late.add(block);
        }
        late.add(&self._conv_head);
        late.add(&self._bn1);
        if let Some(classifier) = &self._fc {
            late.add(classifier);
        }

        [early, late]
    }
}
