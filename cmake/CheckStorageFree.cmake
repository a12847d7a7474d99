# Run by ctest (test/CMakeLists.txt, evidence.engine_sees_only_ports): the engine must see the
# evidence module only through its ports, never storage.
#
#   1. No file under src/engine includes a store/ header, sqlite3.h, or an evidence header other
#      than the record vocabulary and the ports (record.h, store.h, merkle.h).
#   2. The port headers, and delivery/queue.h (the engine and dispatcher's other evidence
#      include), pull in no store/ header and no sqlite3.h, even indirectly: checked with the
#      compiler's own list of the headers a file includes (-M).
#
# cmake -DSRC=<repo>/src -DCXX=<c++ compiler> -P CheckStorageFree.cmake
if(NOT SRC OR NOT CXX)
  message(FATAL_ERROR "usage: cmake -DSRC=... -DCXX=... -P CheckStorageFree.cmake")
endif()
set(problems "")

file(GLOB_RECURSE engine_files "${SRC}/engine/*.h" "${SRC}/engine/*.cc")
foreach(f IN LISTS engine_files)
  file(STRINGS "${f}" includes REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS includes)
    if(line MATCHES "\"store/" OR line MATCHES "sqlite3")
      string(APPEND problems "${f}: ${line}\n")
    elseif(line MATCHES "\"evidence/([a-z_]+\\.h)\"")
      if(NOT CMAKE_MATCH_1 MATCHES "^(record|store|merkle)\\.h$")
        string(APPEND problems "${f}: ${line} (the engine sees evidence through store.h)\n")
      endif()
    endif()
  endforeach()
endforeach()

foreach(header evidence/record.h evidence/store.h delivery/queue.h)
  execute_process(COMMAND "${CXX}" -std=c++20 -M -I "${SRC}" -x c++ "${SRC}/${header}"
                  OUTPUT_VARIABLE deps ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    string(APPEND problems "${header}: the compiler could not list its includes: ${err}\n")
  elseif(deps MATCHES "/src/store/[a-z_]+\\.h" OR deps MATCHES "sqlite3\\.h")
    string(APPEND problems "${header} includes storage, indirectly: ${CMAKE_MATCH_0}\n")
  endif()
endforeach()

if(problems)
  message(FATAL_ERROR "storage reached from the engine's side of the ports:\n${problems}")
endif()
message(STATUS "the engine sees evidence only through its ports")
