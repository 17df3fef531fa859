//! Splitting the scanned images into training and validation sets.

use std::path::Path;

use rand::seq::SliceRandom;

use crate::DataError;
use crate::scan::{ClassFolder, Item, scan_classes};
use crate::seed::{MAX_ITEMS_STREAM, SPLIT_STREAM, rng_for};

/// The class names and the items of both splits.
pub(crate) struct Split {
    pub classes: Vec<String>,
    pub train: Vec<Item>,
    pub valid: Vec<Item>,
}

/// fastai's `split_by_folder`: classes come from `train_dir`, whose class folders must
/// include every class folder of `valid_dir`.
pub(crate) fn split_by_folder(train_dir: &Path, valid_dir: &Path) -> Result<Split, DataError> {
    let train_classes = scan_classes(train_dir)?;
    let valid_classes = scan_classes(valid_dir)?;
    let classes: Vec<String> = train_classes
        .iter()
        .map(|class| class.name.clone())
        .collect();

    let mut valid = Vec::new();
    for folder in valid_classes {
        let Some(label) = classes.iter().position(|name| *name == folder.name) else {
            return Err(DataError::UnknownValidClass {
                class: folder.name,
                path: folder.path,
            });
        };
        valid.extend(items_of(folder, label));
    }

    let train = labelled_items(train_classes);
    Ok(Split {
        classes,
        train,
        valid,
    })
}

/// fastai's `split_by_rand_pct`: a seeded random `valid_pct` of all images of `dir` goes to
/// the validation set. Both sets keep the scan order.
pub(crate) fn split_by_rand_pct(dir: &Path, valid_pct: f64, seed: u64) -> Result<Split, DataError> {
    let folders = scan_classes(dir)?;
    let classes: Vec<String> = folders.iter().map(|class| class.name.clone()).collect();
    let items = labelled_items(folders);

    let mut order: Vec<usize> = (0..items.len()).collect();
    order.shuffle(&mut rng_for(seed, SPLIT_STREAM, 0, 0));
    let cut = (valid_pct * items.len() as f64) as usize;
    let mut is_valid = vec![false; items.len()];
    for &index in &order[..cut] {
        is_valid[index] = true;
    }

    let (valid, train): (Vec<(usize, Item)>, Vec<(usize, Item)>) = items
        .into_iter()
        .enumerate()
        .partition(|(index, _)| is_valid[*index]);
    Ok(Split {
        classes,
        train: train.into_iter().map(|(_, item)| item).collect(),
        valid: valid.into_iter().map(|(_, item)| item).collect(),
    })
}

/// Keeps at most `max_items` of `items`, spread evenly over the classes and chosen at random
/// with `seed`, in their original order.
///
/// Classes smaller than their share leave their unused share to the others.
pub(crate) fn cap_items(
    items: Vec<Item>,
    max_items: usize,
    class_count: usize,
    seed: u64,
    split: u64,
) -> Vec<Item> {
    if items.len() <= max_items {
        return items;
    }

    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); class_count];
    for (index, item) in items.iter().enumerate() {
        by_class[item.label].push(index);
    }

    let mut rng = rng_for(seed, MAX_ITEMS_STREAM, split, 0);
    for indices in &mut by_class {
        indices.shuffle(&mut rng);
    }

    // Hand out one item per class in turns, so the kept set is as balanced as possible.
    let mut keep = vec![false; items.len()];
    let mut kept = 0;
    let mut round = 0;
    while kept < max_items {
        for indices in &by_class {
            if kept < max_items && round < indices.len() {
                keep[indices[round]] = true;
                kept += 1;
            }
        }
        round += 1;
    }

    items
        .into_iter()
        .enumerate()
        .filter(|(index, _)| keep[*index])
        .map(|(_, item)| item)
        .collect()
}

fn labelled_items(folders: Vec<ClassFolder>) -> Vec<Item> {
    let mut items = Vec::new();
    for (label, folder) in folders.into_iter().enumerate() {
        items.extend(items_of(folder, label));
    }
    items
}

fn items_of(folder: ClassFolder, label: usize) -> impl Iterator<Item = Item> {
    folder
        .files
        .into_iter()
        .map(move |path| Item { path, label })
}
