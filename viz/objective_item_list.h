// Every item maths (viz/objective_items.h), one X(...) each: viz/objective.cu instantiates the
// CUDA kernels of ItemBatch<M> for each, viz/objective_disabled.cpp their CPU-only stand-ins.
#pragma once

#include "viz/term_deepdream.h"
#include "viz/term_direction.h"
#include "viz/term_guide.h"
#include "viz/term_l2_to.h"
#include "viz/term_window.h"

#define CUVIZ_ITEM_MATHS(X) X(WindowMaths) X(DeepdreamMaths) X(DirectionMaths) X(CossimMaths) X(L2ToMaths) \
  X(DotToMaths) X(GuideMaths)
