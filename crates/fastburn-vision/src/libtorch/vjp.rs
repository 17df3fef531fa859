//! Rust side of `vjp.cpp`: LibTorch's autograd with a given output gradient.

use std::ffi::{CStr, c_char};

use torch_sys::C_tensor;

unsafe extern "C" {
    fn fastburn_vjp(
        output: *const C_tensor,
        grad: *const C_tensor,
        inputs: *const *const C_tensor,
        count: usize,
        results: *mut *mut C_tensor,
    ) -> *mut c_char;

    fn fastburn_vjp_free_message(message: *mut c_char);
}

/// Returns the gradients of `output` with respect to each of `inputs`, given `grad`, the
/// gradient of some objective with respect to `output`, and frees the graph that recorded
/// `output`. An input `output` does not depend on gets an undefined tensor. No result shares
/// memory with `grad`.
pub(super) fn vector_jacobian(
    output: &tch::Tensor,
    grad: &tch::Tensor,
    inputs: &[&tch::Tensor],
) -> Result<Vec<tch::Tensor>, String> {
    // Burn's gradient can come in another dtype than the output's. It is handed over in the
    // output's dtype, as PyTorch's own backward passes receive it.
    let converted = (grad.kind() != output.kind()).then(|| grad.to_kind(output.kind()));
    let grad = converted.as_ref().unwrap_or(grad);

    let pointers: Vec<*const C_tensor> = inputs.iter().map(|input| input.as_ptr()).collect();
    let mut results: Vec<*mut C_tensor> = vec![std::ptr::null_mut(); inputs.len()];
    // SAFETY: every pointer comes from a live `tch::Tensor` borrowed for the call, and
    // `results` has room for one tensor per input, which the call fills on success.
    let message = unsafe {
        fastburn_vjp(
            output.as_ptr(),
            grad.as_ptr(),
            pointers.as_ptr(),
            pointers.len(),
            results.as_mut_ptr(),
        )
    };

    if !message.is_null() {
        // SAFETY: a non-null return is a NUL-terminated string that the shim allocated and
        // that only this function frees.
        let text = unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned();
        unsafe { fastburn_vjp_free_message(message) };
        return Err(text);
    }
    // SAFETY: on success each entry is a tensor the shim allocated with `new`, which
    // `tch::Tensor`'s drop frees with `delete`. `into_iter` wraps each one once.
    Ok(results
        .into_iter()
        .map(|pointer| unsafe { tch::Tensor::from_ptr(pointer) })
        .collect())
}
