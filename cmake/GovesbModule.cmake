# govesb_module(NAME SOURCES ... DEPS ... TESTS ... TEST_DEPS ...)
#
# One folder under src/ is one module is one static library target `govesb_<NAME>`.
# Headers are included as "<module>/<file>.h" relative to src/. Tests named in TESTS are
# GoogleTest sources that sit beside the code; they build into `govesb_<NAME>_test`.
#
# The tests of the modules in GOVESB_CONCURRENCY_MODULES run threads against each other (the
# group-commit writer, the delivery dispatcher and queue, the HTTP server and client, the
# evidence log's writer, the snapshot watcher, the fair work pool and sharded limiters, the
# traffic counters): they carry the label `concurrency` too, and
# `make test-tsan` runs them under ThreadSanitizer (with the `e2e` tests).
# Where the PostgreSQL server shared by a ctest run lives (src/postgres/test_server.h).
set(GOVESB_TEST_POSTGRES_DIR ${CMAKE_BINARY_DIR}/test-postgres)
set(GOVESB_CONCURRENCY_MODULES store delivery http evidence registry limits traffic)
function(govesb_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;TESTS;TEST_DEPS" ${ARGN})
  add_library(govesb_${name} STATIC ${M_SOURCES})
  # src/ is a build-tree path: installed consumers (the SDK's) never include module headers.
  target_include_directories(govesb_${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>)
  target_link_libraries(govesb_${name} PUBLIC ${M_DEPS})
  if(GOVESB_BUILD_TESTS AND M_TESTS)
    add_executable(govesb_${name}_test ${M_TESTS})
    target_link_libraries(govesb_${name}_test PRIVATE govesb_${name} ${M_TEST_DEPS}
                          GTest::gtest GTest::gtest_main)
    gtest_discover_tests(govesb_${name}_test DISCOVERY_TIMEOUT 60
                         PROPERTIES LABELS unit FIXTURES_REQUIRED postgres
                         ENVIRONMENT "GOVESB_TEST_POSTGRES_DIR=${GOVESB_TEST_POSTGRES_DIR}")
    if(name IN_LIST GOVESB_CONCURRENCY_MODULES)
      # A directory label: gtest_discover_tests cannot give its tests two labels (CMake 3.25).
      set_property(DIRECTORY APPEND PROPERTY LABELS concurrency)
    endif()
  endif()
endfunction()
