#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdio.h>
/* libfuse 3 (Debian 12: 3.14): the layouts the ll3 mode of java/ProtoFs.java hard-codes. */
int main(void) {
    printf("libfuse %d: sizeof(fuse_lowlevel_ops)=%zu lookup@%zu getattr@%zu open@%zu read@%zu write@%zu\n", fuse_version(),
           sizeof(struct fuse_lowlevel_ops), offsetof(struct fuse_lowlevel_ops, lookup), offsetof(struct fuse_lowlevel_ops, getattr),
           offsetof(struct fuse_lowlevel_ops, open), offsetof(struct fuse_lowlevel_ops, read), offsetof(struct fuse_lowlevel_ops, write));
    printf("sizeof(fuse_file_info)=%zu fh@%zu sizeof(fuse_entry_param)=%zu attr@%zu attr_timeout@%zu entry_timeout@%zu sizeof(fuse_args)=%zu\n",
           sizeof(struct fuse_file_info), offsetof(struct fuse_file_info, fh), sizeof(struct fuse_entry_param),
           offsetof(struct fuse_entry_param, attr), offsetof(struct fuse_entry_param, attr_timeout),
           offsetof(struct fuse_entry_param, entry_timeout), sizeof(struct fuse_args));
    return 0;
}
