# /proc/PID/maps parsing (user/sym/proc_maps.c), see fuzz_proc_maps.c.
FUZZ_SRCS_proc_maps := user/sym/proc_maps.c user/util/procfs.c user/util/hash_map.c user/util/array.c
