# ctest driver (cmake -P): installs the build tree into a temporary prefix,
# checks that the installed headers include nothing but each other and the
# standard library (no Asio, RocksDB, spdlog or any other third-party header),
# then configures, builds and runs tests/install/consumer against the package.
#
# Inputs (-D): BUILD_DIR, SOURCE_DIR, WORK_DIR, GENERATOR, CXX, BUILD_TYPE,
# LAUNCHER (may be empty), SANITIZE (ON/OFF).
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# 1. The public headers are self-contained and third-party free.
set(include_root ${prefix}/include/converge)
file(GLOB_RECURSE headers RELATIVE ${include_root} ${include_root}/*)
if(NOT headers)
  message(FATAL_ERROR "no headers installed under ${include_root}")
endif()
foreach(h IN LISTS headers)
  file(STRINGS ${include_root}/${h} lines REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS lines)
    if(line MATCHES "#[ \t]*include[ \t]*\"([^\"]+)\"")
      if(NOT EXISTS ${include_root}/${CMAKE_MATCH_1})
        message(FATAL_ERROR "${h} includes \"${CMAKE_MATCH_1}\", which is not installed")
      endif()
    elseif(line MATCHES "#[ \t]*include[ \t]*<([^>]+)>")
      set(included ${CMAKE_MATCH_1})
      # Standard library headers have neither a directory nor an extension.
      if(included MATCHES "[./]")
        message(FATAL_ERROR "${h} includes <${included}>: not a standard header")
      endif()
    else()
      message(FATAL_ERROR "${h}: unrecognized include line: ${line}")
    endif()
  endforeach()
endforeach()
list(LENGTH headers n)
message(STATUS "${n} installed headers include only each other and the standard library")

# 2. A consumer project finds the package and links converge::node.
set(flags "")
if(SANITIZE)
  set(flags "-fsanitize=address,undefined -fno-omit-frame-pointer")
endif()
set(configure ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/consumer
    -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=${BUILD_TYPE}
    -DCMAKE_PREFIX_PATH=${prefix} "-DCMAKE_CXX_FLAGS=${flags}"
    "-DCMAKE_EXE_LINKER_FLAGS=${flags}")
if(LAUNCHER)
  list(APPEND configure -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
run(${configure})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
execute_process(COMMAND ${WORK_DIR}/consumer/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
message(STATUS "consumer:\n${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the consumer failed (${rc})")
endif()
file(REMOVE_RECURSE ${WORK_DIR})
