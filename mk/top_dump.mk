# `bpfspy top` and `bpfspy dump`: dump_fsbase.c includes the task-iterator skeleton.
$(BUILD)/obj/user/dump_fsbase.o: $(BUILD)/dump.skel.h
