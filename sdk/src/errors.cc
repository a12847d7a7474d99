#include "govesb/result.h"

namespace govesb::sdk {

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return "invalid-argument";
    case ErrorKind::kTransport:
      return "transport";
    case ErrorKind::kUnauthorized:
      return "unauthorized";
    case ErrorKind::kRefused:
      return "refused";
    case ErrorKind::kVerification:
      return "verification";
    case ErrorKind::kProtocol:
      return "protocol";
  }
  return "unknown";
}

}  // namespace govesb::sdk
