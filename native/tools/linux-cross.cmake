# Cross-builds the int8 engine for another Linux architecture with Debian's cross gcc (gcc-aarch64-linux-gnu,
# gcc-x86-64-linux-gnu). The target comes from the environment, which CMake's compiler checks also see:
#   EFFNET_EDGE_CROSS_PROCESSOR=aarch64 cmake -S native -B DIR -DCMAKE_TOOLCHAIN_FILE=native/tools/linux-cross.cmake
# native/tools/prebuild.mjs sets it.
if(NOT DEFINED ENV{EFFNET_EDGE_CROSS_PROCESSOR})
  message(FATAL_ERROR "set EFFNET_EDGE_CROSS_PROCESSOR (aarch64 or x86_64) to use linux-cross.cmake")
endif()
set(_triplet "$ENV{EFFNET_EDGE_CROSS_PROCESSOR}-linux-gnu")
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR "$ENV{EFFNET_EDGE_CROSS_PROCESSOR}")
set(CMAKE_C_COMPILER "${_triplet}-gcc")
set(CMAKE_FIND_ROOT_PATH "/usr/${_triplet}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
