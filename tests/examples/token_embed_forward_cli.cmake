# Checks the token_embed_forward command-line tool (run as `cmake -DTOOL=... -DVECTORS=... -P`):
# every case of token_embed_forward.json printed bit for bit (%.9g text as the file prints it),
# JSON output with null for NaN, ids from stdin, and exit status 2 with one stderr line for
# bad arguments; decimal-only numbers, read errors on stdin, write errors on stdout and a
# table too large for the machine (issue 12, cases 6, 7 and 8); the bound on stdin (issue 22). Not a test of the library
# itself (tests/test_flax.cpp does that).
cmake_minimum_required(VERSION 3.19)  # string(JSON)

if(NOT TOOL OR NOT VECTORS)
  message(FATAL_ERROR "usage: cmake -DTOOL=<token_embed_forward> -DVECTORS=<token_embed_forward.json> -P ${CMAKE_CURRENT_LIST_FILE}")
endif()

set(failures 0)
macro(fail text)
  message(SEND_ERROR "${text}")
  math(EXPR failures "${failures} + 1")
endmacro()

# Runs the tool; sets out, err and rc.
function(run_tool)
  cmake_parse_arguments(RUN "" "INPUT_FILE" "ARGS" ${ARGN})
  if(RUN_INPUT_FILE)
    execute_process(COMMAND "${TOOL}" ${RUN_ARGS} INPUT_FILE "${RUN_INPUT_FILE}"
                    OUTPUT_VARIABLE o ERROR_VARIABLE e RESULT_VARIABLE r)
  else()
    execute_process(COMMAND "${TOOL}" ${RUN_ARGS} OUTPUT_VARIABLE o ERROR_VARIABLE e RESULT_VARIABLE r)
  endif()
  set(out "${o}" PARENT_SCOPE)
  set(err "${e}" PARENT_SCOPE)
  set(rc "${r}" PARENT_SCOPE)
endfunction()

# Whitespace-separated words of text as a CMake list.
function(words_of text result)
  string(STRIP "${text}" text)
  string(REGEX REPLACE "[ \t\r\n]+" ";" text "${text}")
  set(${result} "${text}" PARENT_SCOPE)
endfunction()

file(READ "${VECTORS}" vectors)
string(JSON cases GET "${vectors}" cases)  # string(JSON) re-parses its input on every call
string(JSON case_count LENGTH "${cases}")
math(EXPR last "${case_count} - 1")
foreach(i RANGE ${last})
  string(JSON seed GET "${cases}" ${i} seed)
  string(JSON vocab GET "${cases}" ${i} vocab_size)
  string(JSON dim GET "${cases}" ${i} d_model)
  string(JSON prng GET "${cases}" ${i} prng)
  string(JSON policy GET "${cases}" ${i} ids_policy)
  string(JSON ids_json GET "${cases}" ${i} token_ids)
  string(REGEX REPLACE "[][ \n]" "" ids "${ids_json}")
  run_tool(ARGS --seed ${seed} --vocab ${vocab} --dim ${dim} "--ids=${ids}" --prng ${prng} --ids-policy ${policy})
  set(label "case ${i} (seed ${seed}, V ${vocab}, D ${dim}, ids ${ids}, ${prng}, ${policy})")
  if(NOT rc EQUAL 0)
    fail("${label}: exit status ${rc}: ${err}")
    continue()
  endif()
  words_of("${out}" got)
  string(JSON expected_count LENGTH "${cases}" ${i} expected)
  list(LENGTH got got_count)
  if(NOT got_count EQUAL expected_count)
    fail("${label}: ${got_count} values printed, ${expected_count} expected")
    continue()
  endif()
  math(EXPR last_value "${expected_count} - 1")
  foreach(j RANGE ${last_value})
    string(JSON want GET "${cases}" ${i} expected ${j})
    list(GET got ${j} have)
    if(NOT have STREQUAL want)
      fail("${label}: value ${j} printed as '${have}', expected '${want}'")
    endif()
  endforeach()
endforeach()
message(STATUS "${case_count} cases of token_embed_forward.json checked")

# JSON output: the shape, and null where Flax gives NaN rows.
run_tool(ARGS --seed 0 --vocab 5 --dim 3 "--ids=0,-1,5" --ids-policy flax --format json)
set(want_json "{\"shape\": [3, 3], \"values\": [0.0439608917, -0.932851315, -0.973281145, -0.503953218, 0.287319005, 1.43699217, null, null, null]}\n")
if(NOT rc EQUAL 0 OR NOT out STREQUAL want_json)
  fail("--format json printed '${out}' (exit ${rc}), expected '${want_json}'")
endif()

# Ids from stdin, separated by whitespace and commas.
set(ids_file "${CMAKE_CURRENT_BINARY_DIR}/token_embed_forward_cli_ids.txt")
file(WRITE "${ids_file}" "0 2,\n1\n")
run_tool(ARGS --seed 0 --vocab 4 --dim 3 --ids - INPUT_FILE "${ids_file}")
words_of("${out}" got)
set(want 0.0439608917 -0.932851315 -0.973281145 0.0971962363 0.498613775 0.495192766 0.411471248 0.663347542 0.494691551)
if(NOT rc EQUAL 0 OR NOT got STREQUAL want)
  fail("--ids - printed '${out}' (exit ${rc})")
endif()
file(REMOVE "${ids_file}")

# Bad arguments: exit status 2 and exactly one line on stderr.
set(bad_1 --seed 0 --vocab 5 --dim 3 --ids 0,7)
set(bad_2 --seed 0 --vocab 5 --dim 3 --ids 2.5)
set(bad_3 --seed 0 --vocab 5 --dim 3 --ids=-1)
set(bad_4 --seed 0 --vocab 5 --dim 3 --ids 0 --prng bogus)
set(bad_5 --seed 0 --vocab 5 --dim 3)
set(bad_6 --seed 0 --vocab 0 --dim 3 --ids 0)
set(bad_7 --seed 1.5 --vocab 5 --dim 3 --ids 0)
set(bad_8 --seed 0 --vocab 5 --dim 3 --ids 1,,2)
set(bad_9 --seed 99999999999999999999 --vocab 5 --dim 3 --ids 0)
set(bad_10 --seed 0 --vocab 5 --dim 3 --ids 0 --ids-policy lenient)
foreach(k RANGE 1 10)
  run_tool(ARGS ${bad_${k}})
  string(REGEX MATCHALL "\n" newlines "${err}")
  list(LENGTH newlines line_count)
  if(NOT rc EQUAL 2 OR NOT line_count EQUAL 1 OR NOT out STREQUAL "")
    fail("'${bad_${k}}': exit ${rc}, stderr '${err}', stdout '${out}'")
  endif()
endforeach()
run_tool(ARGS --seed 0 --vocab 5 --dim 3 --ids 0,7)
if(NOT err STREQUAL "token_embed_forward: token id 7 at position 1 is out of range [0, 5)\n")
  fail("out-of-range message was '${err}'")
endif()

# Numbers are decimal: --seed 010 is seed 10 (CLI11 alone would read octal 8).
run_tool(ARGS --seed 010 --vocab 5 --dim 3 --ids 1)
set(ten_out "${out}")
run_tool(ARGS --seed 10 --vocab 5 --dim 3 --ids 1)
if(NOT ten_out STREQUAL out OR ten_out STREQUAL "")
  fail("--seed 010 printed '${ten_out}', --seed 10 printed '${out}'")
endif()
run_tool(ARGS --seed 0x10 --vocab 5 --dim 3 --ids 1)
if(NOT rc EQUAL 2 OR NOT err MATCHES "--seed: 0x10 is not a whole number")
  fail("--seed 0x10: exit ${rc}, stderr '${err}'")
endif()

# Read errors on stdin and write errors on stdout: exit status 1 and a message, never a
# silent success. (A directory as stdin fails read(2) with EISDIR; /dev/full fails writes.)
function(check_stream what script message)
  execute_process(COMMAND sh -c "${script}" sh "${TOOL}" OUTPUT_VARIABLE o ERROR_VARIABLE e RESULT_VARIABLE r)
  if(NOT r EQUAL 1 OR NOT e STREQUAL "token_embed_forward: ${message}\n")
    fail("${what}: exit ${r}, stderr '${e}', expected '${message}'")
  endif()
  set(failures ${failures} PARENT_SCOPE)
endfunction()
set(ids_from_stdin "\"$1\" --seed 0 --vocab 5 --dim 3 --ids -")
check_stream("stdin is a directory" "${ids_from_stdin} < /" "cannot read the ids from stdin: Is a directory")
check_stream("stdin is closed" "${ids_from_stdin} <&-" "cannot read the ids from stdin: Bad file descriptor")
check_stream("stdout is full" "\"$1\" --seed 0 --vocab 5 --dim 3 --ids 0,1 > /dev/full"
             "cannot write to stdout: No space left on device")

# An endless stdin (ids, or NUL bytes) is read up to its bound, then refused: exit status 2
# and one line, never a read until memory runs out. (The timeout turns a hang into a failure.)
foreach(source "yes 0 |" "< /dev/zero")
  execute_process(COMMAND sh -c "${source} \"$1\" --seed 0 --vocab 5 --dim 3 --ids -" sh "${TOOL}"
                  OUTPUT_VARIABLE o ERROR_VARIABLE e RESULT_VARIABLE r TIMEOUT 60)
  if(NOT r EQUAL 2 OR NOT e STREQUAL "token_embed_forward: --ids -: stdin holds more than 16777216 bytes, the most this tool reads (pass fewer ids)\n")
    fail("endless stdin (${source}): exit ${r}, stderr '${e}'")
  endif()
endforeach()

# A table too large for the machine: refused with its size, not a bare std::bad_alloc.
run_tool(ARGS --seed 0 --vocab 1000000000000 --dim 1000 --ids 0)
if(NOT rc EQUAL 1 OR NOT err MATCHES "table and its output needs 4000000000[0-9]* bytes \\([0-9.]+ PiB\\), more than the")
  fail("--vocab 1000000000000 --dim 1000: exit ${rc}, stderr '${err}'")
endif()

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} token_embed_forward CLI check(s) failed")
endif()
message(STATUS "token_embed_forward CLI: all checks passed")
