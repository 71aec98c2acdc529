// Gram matrices and the fused style loss on CUDA against the CPU path (skipped without a device):
// forward, backward, values at slots and the weighted accumulation into dF, on dense and
// batch-strided features.
#include <vector>

#include "kernels/gram.h"

#include "cuda_test_util.h"

namespace cuviz {
namespace {

TEST(GramCuda, MatchesCpu) {
  CUVIZ_REQUIRE_GPU();
  const Shape shapes[] = {{1, 3, 5, 7}, {2, 64, 28, 28}, {3, 192, 14, 9}};
  int seed = 100;
  for (const Shape& s : shapes)
    for (GramNorm n : {GramNorm::chw, GramNorm::gatys}) {
      SCOPED_TRACE(cat(s.str(), " ", gram_norm_name(n)));
      OwnedTensor wide(Shape{s.n, 2 * s.c, s.h, s.w});
      test::fill_uniform(wide, ++seed);
      const Tensor f = wide.channels(1, s.c);  // batch-strided
      OwnedTensor fd = test::to_device(wide);
      const Tensor f_dev = fd.channels(1, s.c);
      const Shape gs{s.n, s.c, s.c, 1};
      OwnedTensor g(gs), g_dev(gs, Device::cuda);
      gram_forward(n, f, g);
      gram_forward(n, f_dev, g_dev);
      EXPECT_TRUE(test::all_close(test::to_host(g_dev), g, 1e-4, 1e-4));

      OwnedTensor dg = test::random_tensor(gs, ++seed), df(s), df_dev(s, Device::cuda);
      OwnedTensor dg_dev = test::to_device(dg);
      gram_backward(n, f, dg, df);
      gram_backward(n, f_dev, dg_dev, df_dev);
      EXPECT_TRUE(test::all_close(test::to_host(df_dev), df, 1e-4, 1e-3));

      OwnedTensor t = test::random_tensor(Shape{1, s.c, s.c, 1}, ++seed, -0.1, 0.1), scratch(gs);
      OwnedTensor t_dev = test::to_device(t);
      std::vector<float> w(size_t(s.n) + 1);
      std::vector<int> slots;
      for (int i = 0; i < s.n; ++i) {
        slots.push_back(i + 1);
        w[size_t(i + 1)] = 0.25f * (i + 1);
      }
      std::vector<float> values(w.size(), 0.f);
      OwnedTensor w_dev = test::to_device(Tensor(w.data(), Shape{1, 1, 1, int(w.size())}));
      OwnedTensor v_dev(Shape{1, 1, 1, int(w.size())}, Device::cuda);
      Buffer slots_dev(slots.size() * sizeof(int), Device::cuda);
      cuda_rt::memcpy(slots_dev.data(), true, slots.data(), false, slots.size() * sizeof(int));
      style_loss_forward(n, f, t, g, values.data(), slots.data());
      style_loss_forward(n, f_dev, t_dev, g_dev, v_dev.data(), static_cast<const int*>(slots_dev.data()));
      OwnedTensor v_host = test::to_host(v_dev);
      for (int i = 0; i < s.n; ++i)
        EXPECT_NEAR(v_host.data()[i + 1], values[size_t(i + 1)], 1e-4 * std::fabs(values[size_t(i + 1)]) + 1e-10);
      OwnedTensor acc = test::random_tensor(s, ++seed);
      OwnedTensor acc_dev = test::to_device(acc);
      style_loss_backward(n, f, g, t, w.data(), slots.data(), acc, scratch);
      style_loss_backward(n, f_dev, g_dev, t_dev, w_dev.data(), static_cast<const int*>(slots_dev.data()), acc_dev,
                          Tensor());
      EXPECT_TRUE(test::all_close(test::to_host(acc_dev), acc, 1e-4, 1e-3));
    }
}

}  // namespace
}  // namespace cuviz
