//! The builder behind [`ImageDataBunch::from_folder`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::scan::Item;
use crate::split::{Split, cap_items, split_by_folder, split_by_rand_pct};
use crate::verify::{ImageCheck, find_corrupt};
use crate::{
    DataError, ImageDataBunch, MAX_IMAGE_PIXELS, MAX_IMAGE_SIZE, NormStats, Transform,
    get_transforms,
};

/// The default image size: the short side is resized to it and a square of it is cropped.
pub const DEFAULT_SIZE: usize = 224;

/// The default batch size, fastai's `bs=64`.
pub const DEFAULT_BATCH_SIZE: usize = 64;

/// Settings for [`ImageDataBunch::from_folder`]; [`ImageDataBunchBuilder::build`] scans the
/// folder.
#[derive(Debug, Clone)]
pub struct ImageDataBunchBuilder {
    path: PathBuf,
    train: Option<String>,
    valid: String,
    valid_pct: Option<f64>,
    seed: u64,
    size: usize,
    batch_size: usize,
    num_workers: usize,
    stats: Option<NormStats>,
    train_tfms: Vec<Transform>,
    valid_tfms: Vec<Transform>,
    skip_corrupt: bool,
    max_items: Option<usize>,
    image_check: ImageCheck,
}

impl ImageDataBunchBuilder {
    pub(crate) fn new(path: &Path) -> Self {
        let (train_tfms, valid_tfms) = get_transforms();
        let num_workers = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        ImageDataBunchBuilder {
            path: path.to_path_buf(),
            train: None,
            valid: "valid".to_owned(),
            valid_pct: None,
            seed: 0,
            size: DEFAULT_SIZE,
            batch_size: DEFAULT_BATCH_SIZE,
            num_workers,
            stats: None,
            train_tfms,
            valid_tfms,
            skip_corrupt: false,
            max_items: None,
            image_check: ImageCheck::default(),
        }
    }

    /// Sets the training subfolder (default `train`). With [`Self::valid_pct`], names the
    /// folder to split; without this call that is the dataset folder itself.
    pub fn train(mut self, name: impl Into<String>) -> Self {
        self.train = Some(name.into());
        self
    }

    /// Sets the validation subfolder (default `valid`).
    pub fn valid(mut self, name: impl Into<String>) -> Self {
        self.valid = name.into();
        self
    }

    /// Splits one folder of class subfolders at random instead: `pct` (between 0 and 1,
    /// exclusive) of the images go to the validation set, chosen with [`Self::seed`].
    pub fn valid_pct(mut self, pct: f64) -> Self {
        self.valid_pct = Some(pct);
        self
    }

    /// Sets the seed of the split, the shuffling and the augmentations (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the side of the square images in a batch, in pixels (default 224, at most
    /// [`MAX_IMAGE_SIZE`]). A batch then takes `batch_size * 3 * size * size * 4` bytes, which
    /// `build` does not compare with the memory available.
    pub fn size(mut self, size: usize) -> Self {
        self.size = size;
        self
    }

    /// Sets the number of images per batch (default 64).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Sets the number of threads that decode and augment images ahead of the training loop
    /// (default: the number of cores). 0 prepares each batch on the calling thread when it is
    /// requested.
    pub fn num_workers(mut self, num_workers: usize) -> Self {
        self.num_workers = num_workers;
        self
    }

    /// Normalizes images with `stats`, such as [`crate::IMAGENET_STATS`]. Without this call,
    /// batches hold pixels on the 0..1 scale.
    pub fn normalize(mut self, stats: NormStats) -> Self {
        self.stats = Some(stats);
        self
    }

    /// Sets the training transforms (default: the first list of [`get_transforms`]).
    pub fn train_tfms(mut self, tfms: Vec<Transform>) -> Self {
        self.train_tfms = tfms;
        self
    }

    /// Sets the validation transforms (default: a centre crop).
    pub fn valid_tfms(mut self, tfms: Vec<Transform>) -> Self {
        self.valid_tfms = tfms;
        self
    }

    /// Sets both transform lists, as fastai's `ds_tfms=(train, valid)`.
    pub fn ds_tfms(self, (train, valid): (Vec<Transform>, Vec<Transform>)) -> Self {
        self.train_tfms(train).valid_tfms(valid)
    }

    /// Drops corrupt image files with a logged warning instead of failing the build
    /// (default `false`).
    pub fn skip_corrupt(mut self, skip: bool) -> Self {
        self.skip_corrupt = skip;
        self
    }

    /// Keeps at most `max_items` images in each split, balanced over the classes and chosen
    /// with [`Self::seed`]; meant for quick smoke runs.
    pub fn max_items(mut self, max_items: usize) -> Self {
        self.max_items = Some(max_items);
        self
    }

    /// Sets how the image files are checked while building (default: fully decoded).
    pub fn image_check(mut self, check: ImageCheck) -> Self {
        self.image_check = check;
        self
    }

    /// Scans the folder, splits it, checks the images and returns the DataBunch.
    ///
    /// Corrupt images are all reported at once in [`DataError::CorruptImages`] unless
    /// [`Self::skip_corrupt`] is set.
    pub fn build(self) -> Result<ImageDataBunch, DataError> {
        self.validate_settings()?;
        if !self.path.is_dir() {
            return Err(DataError::FolderNotFound { path: self.path });
        }

        let mut split = self.split()?;
        if let Some(max_items) = self.max_items {
            let classes = split.classes.len();
            split.train = cap_items(split.train, max_items, classes, self.seed, 0);
            split.valid = cap_items(split.valid, max_items, classes, self.seed, 1);
        }

        let (train, valid) = self.drop_corrupt(split.train, split.valid)?;
        if train.is_empty() {
            return Err(DataError::NoImages { path: self.path });
        }
        if valid.is_empty() {
            log::warn!(
                "the validation set of {} is empty, so fit reports no validation loss or metrics",
                self.path.display()
            );
        }

        Ok(ImageDataBunch {
            path: self.path,
            classes: split.classes,
            train: Arc::new(train),
            valid: Arc::new(valid),
            size: self.size,
            batch_size: self.batch_size,
            num_workers: self.num_workers,
            seed: self.seed,
            stats: self.stats,
            train_tfms: Arc::new(self.train_tfms),
            valid_tfms: Arc::new(self.valid_tfms),
        })
    }

    fn validate_settings(&self) -> Result<(), DataError> {
        let invalid = |name, message: &str| {
            Err(DataError::InvalidConfig {
                name,
                message: message.to_owned(),
            })
        };
        if self.size == 0 {
            return invalid("size", "must be at least 1 pixel");
        }
        if self.size > MAX_IMAGE_SIZE {
            return invalid(
                "size",
                &format!(
                    "must be at most {MAX_IMAGE_SIZE} pixels (a square within the \
                     {MAX_IMAGE_PIXELS}-pixel image limit), got {}",
                    self.size
                ),
            );
        }
        for (name, tfms) in [
            ("train_tfms", &self.train_tfms),
            ("valid_tfms", &self.valid_tfms),
        ] {
            if let Some(message) = tfms.iter().find_map(|tfm| tfm.check().err()) {
                return invalid(name, &message);
            }
        }
        if self.batch_size == 0 {
            return invalid("batch_size", "must be at least 1");
        }
        if self.max_items == Some(0) {
            return invalid("max_items", "must be at least 1");
        }
        if let Some(pct) = self.valid_pct
            && !(pct > 0.0 && pct < 1.0)
        {
            return invalid(
                "valid_pct",
                &format!("must lie strictly between 0 and 1, got {pct}"),
            );
        }
        Ok(())
    }

    fn split(&self) -> Result<Split, DataError> {
        let split_dir = |split: &'static str, name: &str| {
            let dir = self.path.join(name);
            if dir.is_dir() {
                Ok(dir)
            } else {
                Err(DataError::SplitFolderNotFound { split, path: dir })
            }
        };

        match self.valid_pct {
            Some(pct) => {
                let dir = match &self.train {
                    Some(name) => split_dir("train", name)?,
                    None => self.path.clone(),
                };
                // fastai labels each image by its parent folder, so there a train/valid layout
                // still yields the real classes. Here the top folders are the classes.
                if self.train.is_none()
                    && dir.join("train").is_dir()
                    && dir.join(&self.valid).is_dir()
                {
                    log::warn!(
                        "{} has train/ and {}/ folders, which become classes with valid_pct; \
                         set `.train(\"train\")` to split train/ at random instead",
                        dir.display(),
                        self.valid
                    );
                }
                split_by_rand_pct(&dir, pct, self.seed)
            }
            None => {
                let train_dir = split_dir("train", self.train.as_deref().unwrap_or("train"))?;
                let valid_dir = split_dir("valid", &self.valid)?;
                split_by_folder(&train_dir, &valid_dir)
            }
        }
    }

    /// Checks both splits and fails with every corrupt file, or drops them all when
    /// `skip_corrupt` is set.
    fn drop_corrupt(
        &self,
        train: Vec<Item>,
        valid: Vec<Item>,
    ) -> Result<(Vec<Item>, Vec<Item>), DataError> {
        let mut corrupt = find_corrupt(&train, self.image_check);
        corrupt.extend(find_corrupt(&valid, self.image_check));
        if corrupt.is_empty() {
            return Ok((train, valid));
        }
        if !self.skip_corrupt {
            let errors = corrupt.into_iter().map(|(_, error)| error).collect();
            return Err(DataError::CorruptImages { errors });
        }

        // Each error is paired with its item's path, so every kind of decoding failure drops
        // its file, whichever variant reports it.
        let mut bad_paths = HashSet::new();
        for (path, error) in corrupt {
            log::warn!("skipping corrupt image: {error}");
            bad_paths.insert(path);
        }
        let keep = |items: &[Item]| -> Vec<Item> {
            items
                .iter()
                .filter(|item| !bad_paths.contains(&item.path))
                .cloned()
                .collect()
        };
        let (train_kept, valid_kept) = (keep(&train), keep(&valid));

        // An empty class folder is an error, so a class whose every image is corrupt is one
        // too, instead of a class that silently has no images in one split.
        for (before, after) in [(&train, &train_kept), (&valid, &valid_kept)] {
            let kept_labels: HashSet<usize> = after.iter().map(|item| item.label).collect();
            if let Some(item) = before.iter().find(|item| !kept_labels.contains(&item.label)) {
                let path = item.path.parent().unwrap_or(&item.path).to_path_buf();
                return Err(DataError::CorruptClass { path });
            }
        }
        Ok((train_kept, valid_kept))
    }
}
