// The vector-Jacobian product of a recorded LibTorch graph for a given output gradient.
//
// tch 0.22 binds LibTorch's autograd only with an all-ones output gradient. Differentiating
// sum(output * grad) instead costs a product, a sum and the product's own backward: about 10%
// of a bf16 ResNet34 training step in a perf profile here. torch::autograd::grad takes the
// gradient directly.

#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

#include <torch/csrc/autograd/autograd.h>

namespace {

// Returned instead of a message when the message itself cannot be allocated, so a failure
// never reads as success. fastburn_vjp_free_message does not free it.
char OUT_OF_MEMORY[] = "out of memory while reporting a LibTorch autograd error";

// Frees the first `written` results and returns `text` as a message for the caller.
char *fail(at::Tensor **results, size_t written, const char *text) {
  for (size_t i = 0; i < written; ++i) {
    delete results[i];
  }
  char *copy = strdup(text);
  return copy != nullptr ? copy : OUT_OF_MEMORY;
}

} // namespace

extern "C" {

// Writes to results[i] a new tensor with the gradient of `output` with respect to inputs[i],
// given the gradient `grad` of `output`, or an undefined tensor where `output` does not
// depend on it. The graph is freed. Returns null, or a message to free with
// fastburn_vjp_free_message, in which case `results` contains nothing to free.
char *fastburn_vjp(const at::Tensor *output, const at::Tensor *grad,
                   const at::Tensor *const *inputs, size_t count,
                   at::Tensor **results) {
  size_t written = 0;
  try {
    std::vector<at::Tensor> leaves;
    leaves.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      leaves.push_back(*inputs[i]);
    }
    auto gradients = torch::autograd::grad({*output}, leaves, {*grad},
                                           /*retain_graph=*/false,
                                           /*create_graph=*/false,
                                           /*allow_unused=*/true);

    // An addition's backward passes `grad` itself on. Burn counts the owners of each
    // gradient's memory and adds into a gradient in place when it counts one owner. A result
    // sharing `grad`'s memory could then overwrite Burn's own copy, so it is copied.
    for (; written < count; ++written) {
      at::Tensor gradient = std::move(gradients[written]);
      if (gradient.defined() && gradient.is_alias_of(*grad)) {
        gradient = gradient.clone();
      }
      results[written] = new at::Tensor(std::move(gradient));
    }
    return nullptr;
  } catch (const std::exception &error) {
    return fail(results, written, error.what());
  } catch (...) {
    return fail(results, written, "unknown C++ exception");
  }
}

// Frees a message returned by fastburn_vjp.
void fastburn_vjp_free_message(char *text) {
  if (text != OUT_OF_MEMORY) {
    std::free(text);
  }
}
}
