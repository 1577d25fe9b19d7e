cmake_policy(SET CMP0057 NEW)
# Compares the dynamic symbols libfieldcase_c.so defines with the checked-in list, so that any
# change to the exported set is deliberate. Run as:
#   cmake -DLIBRARY=<libfieldcase_c.so> -DEXPECTED=<exported-symbols.txt> -DNM=<nm> -P check_symbols.cmake
# Fails with the symbols that appeared ("+") and disappeared ("-"). To accept a change, update
# exported-symbols.txt (one symbol per line, sorted; lines starting with # are comments).
foreach(var LIBRARY EXPECTED NM)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_symbols.cmake: -D${var}= is required")
  endif()
endforeach()

execute_process(COMMAND ${NM} -D --defined-only ${LIBRARY}
  OUTPUT_VARIABLE nm_out RESULT_VARIABLE nm_rc ERROR_VARIABLE nm_err)
if(NOT nm_rc EQUAL 0)
  message(FATAL_ERROR "${NM} failed on ${LIBRARY}: ${nm_err}")
endif()

# "<address> <type> <name>[@@VERSION]"; version nodes are absolute (type A) symbols.
set(actual "")
string(REPLACE "\n" ";" lines "${nm_out}")
foreach(line IN LISTS lines)
  if(line MATCHES "^[0-9a-fA-F]* *([A-Za-z]) ([^ @]+)")
    if(NOT CMAKE_MATCH_1 STREQUAL "A")
      list(APPEND actual "${CMAKE_MATCH_2}")
    endif()
  endif()
endforeach()
list(SORT actual)
list(REMOVE_DUPLICATES actual)

file(STRINGS ${EXPECTED} expected_lines)
set(expected "")
foreach(line IN LISTS expected_lines)
  string(STRIP "${line}" line)
  if(line STREQUAL "" OR line MATCHES "^#")
    continue()
  endif()
  list(APPEND expected "${line}")
endforeach()
list(SORT expected)

set(added "")
foreach(s IN LISTS actual)
  if(NOT s IN_LIST expected)
    list(APPEND added "${s}")
  endif()
endforeach()
set(removed "")
foreach(s IN LISTS expected)
  if(NOT s IN_LIST actual)
    list(APPEND removed "${s}")
  endif()
endforeach()

if(added OR removed)
  set(diff "")
  foreach(s IN LISTS added)
    string(APPEND diff "  + ${s}\n")
  endforeach()
  foreach(s IN LISTS removed)
    string(APPEND diff "  - ${s}\n")
  endforeach()
  message(FATAL_ERROR "the exported symbols of ${LIBRARY} differ from ${EXPECTED}:\n${diff}"
                      "Update the list if the change is deliberate (an ABI change).")
endif()
list(LENGTH actual count)
message(STATUS "${count} exported symbols match ${EXPECTED}")
