#pragma once

// The GovESB C++ SDK in one include: keys, results, the consumer Client and the Provider side.

#include "govesb/client.h"  // IWYU pragma: export
#include "govesb/keys.h"    // IWYU pragma: export
#include "govesb/result.h"  // IWYU pragma: export
