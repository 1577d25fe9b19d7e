# Proves check_symbols.cmake notices a change to the exported set: run against the real library
# with a list missing one exported symbol, and with a list naming one that does not exist, it
# must fail and name the symbol each time. Same -D arguments as check_symbols.cmake, plus
# -DWORK_DIR=<scratch directory>.
cmake_policy(SET CMP0057 NEW)
file(STRINGS ${EXPECTED} lines REGEX "^fc_")
list(GET lines 0 dropped)
set(without ${lines})
list(REMOVE_ITEM without ${dropped})
set(with_extra ${lines} fc_not_a_real_symbol)

file(MAKE_DIRECTORY ${WORK_DIR})
foreach(case missing extra)
  if(case STREQUAL "missing")
    string(REPLACE ";" "\n" text "${without}")
    set(expect "\\+ ${dropped}")
  else()
    string(REPLACE ";" "\n" text "${with_extra}")
    set(expect "- fc_not_a_real_symbol")
  endif()
  file(WRITE ${WORK_DIR}/${case}.txt "${text}\n")
  execute_process(
    COMMAND ${CMAKE_COMMAND} -DLIBRARY=${LIBRARY} -DEXPECTED=${WORK_DIR}/${case}.txt -DNM=${NM}
            -P ${CMAKE_CURRENT_LIST_DIR}/check_symbols.cmake
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0)
    message(FATAL_ERROR "check_symbols.cmake accepted a list with a symbol ${case}")
  endif()
  if(NOT "${out}${err}" MATCHES "${expect}")
    message(FATAL_ERROR "check_symbols.cmake failed without naming the symbol:\n${out}${err}")
  endif()
endforeach()
message(STATUS "the symbol check notices a symbol appearing and disappearing")
