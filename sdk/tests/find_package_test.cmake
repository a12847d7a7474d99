# ctest: installs the SDK component of the current build into a scratch prefix, then configures
# and builds sdk/examples against it with find_package(govesb), as another project would.
# Arguments (-D): BUILD_DIR, EXAMPLES_DIR, WORK_DIR, GENERATOR, CXX_COMPILER.
foreach(var BUILD_DIR EXAMPLES_DIR WORK_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "find_package_test.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --component govesb_sdk)
if(NOT EXISTS ${prefix}/include/govesb/client.h)
  message(FATAL_ERROR "headers were not installed under ${prefix}/include/govesb")
endif()
run(${CMAKE_COMMAND} -S ${EXAMPLES_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_BUILD_TYPE=Debug
    -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
# The consumer must have used the installed package, not a build tree.
file(STRINGS ${WORK_DIR}/build/CMakeCache.txt govesb_dir REGEX "^govesb_DIR:")
string(FIND "${govesb_dir}" "${prefix}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "find_package(govesb) did not use ${prefix}: ${govesb_dir}")
endif()
message(STATUS "find_package(govesb) consumer built against ${prefix}")
