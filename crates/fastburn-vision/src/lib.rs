//! fastburn-vision: ResNet backbones with torchvision's structure and names, weight loading
//! from PyTorch, safetensors and ONNX files, and fastai's head and layer groups.

pub mod efficientnet;
pub mod onnx;
pub mod resnet;
pub mod weights;
