"""Every choice that makes archives and layers byte-reproducible, named in one place.

Jib's ReproducibleLayerBuilder is the model: entries sorted, parent directories explicit, owner 0:0 with no
names, one fixed mtime, normalized modes, no atime/ctime/xattrs (plain ustar/GNU headers carry none), and a
gzip header with mtime 0 and no file name.
"""
# 1980-01-01T00:00:00Z: the earliest time every archive format (zip included) can store, and what
# SOURCE_DATE_EPOCH defaults to for builds of this plugin. Overridable where a field or option says so.
DEFAULT_EPOCH = 315532800
OWNER_UID = 0
OWNER_GID = 0
DIR_MODE = 0o755
FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755
SYMLINK_MODE = 0o777
GZIP_LEVEL = 6  # gzip's default: a fixed level, because the level changes the bytes.
GZIP_MTIME = 0
