#include "base/version.h"

namespace govesb {

std::string_view GovesbVersion() { return GOVESB_VERSION; }

}  // namespace govesb
