#pragma once

#include <string_view>

namespace govesb {

// Names the calling thread, as `top -H`, `ps -L` and /proc/PID/task/*/comm show it: the bus's
// threads say what they are ("govesb-io", "govesb-writer", ...). Linux keeps 15 bytes; a longer
// name is cut. Best effort: a failure leaves the inherited name.
void NameThisThread(std::string_view name);

}  // namespace govesb
