// Error plumbing shared by every translation unit of the shim: the thread-local last-error message,
// the shim's own argument error type, and the one guard macro that keeps C++ exceptions inside.
#pragma once

#include <stdexcept>
#include <string>

#include <c10/util/Exception.h>

#include "modelkit_torch.h"

namespace mk {

// Raised by the shim's own argument checks; carries the MK_E_* status to return.
class ShimError : public std::runtime_error {
public:
    ShimError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
    int status() const noexcept { return status_; }

private:
    int status_;
};

// Clears the calling thread's last error (every guarded export starts with it).
void clear_error() noexcept;

// Records `message` as the calling thread's last error and returns `status`.
int fail(int status, const char* message) noexcept;

// Throws ShimError(status, message) when `condition` is false. A macro, so that the message (usually built by string
// concatenation) is evaluated only on failure: several checks run once per training step or per label.
#define MK_REQUIRE(condition, status, message)        \
    do {                                              \
        if (!(condition)) {                           \
            throw ::mk::ShimError((status), (message)); \
        }                                             \
    } while (false)

// Throws MK_E_INVALID_ARGUMENT naming `what` when `pointer` is null.
inline void require_not_null(const void* pointer, const char* what) {
    if (pointer == nullptr) {
        throw ShimError(MK_E_INVALID_ARGUMENT, std::string(what) + " must not be NULL");
    }
}

// Formats a shape as "[32, 1, 28, 28]".
std::string format_shape(const int64_t* shape, int64_t rank);

}  // namespace mk

// The one guard: runs the body (which must return a status) and turns every exception into a status plus
// the thread-local message: the shim's own errors, then c10::Error (without its C++ backtrace), then any
// std::exception, then anything else. Usage: int mk_x(...) { MK_GUARD( ...; return MK_OK; ) }
#define MK_GUARD(...)                                                                          \
    try {                                                                                      \
        ::mk::clear_error();                                                                   \
        __VA_ARGS__                                                                            \
    } catch (const ::mk::ShimError& e) {                                                       \
        return ::mk::fail(e.status(), e.what());                                               \
    } catch (const c10::Error& e) {                                                            \
        return ::mk::fail(MK_E_TORCH, e.what_without_backtrace());                             \
    } catch (const std::exception& e) {                                                        \
        return ::mk::fail(MK_E_STD, e.what());                                                 \
    } catch (...) {                                                                            \
        return ::mk::fail(MK_E_UNKNOWN, "an exception of unknown type was raised inside libtorch"); \
    }
