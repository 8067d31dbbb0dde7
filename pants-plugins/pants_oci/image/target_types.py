"""The `python_oci_image` target: an OCI image of a `pex_binary` on a compiled `python_runtime`."""
from typing import Any, Dict, Iterable, Optional, Tuple

from pants.core.goals.package import OutputPathField
from pants.engine.addresses import Address
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    BoolField,
    Dependencies,
    DictStringToStringField,
    InvalidFieldException,
    SpecialCasedDependencies,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.frozendict import FrozenDict
from pants.util.strutil import softwrap

from pants_oci.image import plan


def _invalid(field: Any, address: Address, problem: str) -> InvalidFieldException:
    return InvalidFieldException(f"The {field.alias!r} field in target {address}: {problem}.")


class ImageRuntimeField(StringField):
    alias = "runtime"
    required = True
    value: str
    help = softwrap(
        """
        The address of the `python_runtime` the app runs on, e.g. `runtime="src/python/runtimes:py313"`. Its
        compiled tree is one layer (shared by every image on that runtime), its interpreter installs the app, and
        its complete platform selects the third-party wheels.
        """
    )


class ImageBinaryField(StringField):
    alias = "binary"
    required = True
    value: str
    help = softwrap(
        """
        The address of the `pex_binary` to ship, e.g. `binary=":hello-cli"`. Its interpreter constraints must
        admit the runtime's version. Its third-party requirements become one layer (resolved for the runtime,
        not for the host), its first-party sources another, under `/app`; its entry point (or script), `args`
        and `env` become the image's entry point and environment.
        """
    )


class ImageBaseField(SpecialCasedDependencies):
    alias = "base"
    help = softwrap(
        """
        `debian_packages` targets that form the bottom layers, one layer each, in order. Default: the
        `debian_packages` target whose `runtimes` field lists this image's runtime (it provides exactly the
        libraries the runtime loads), or, when none does, the runtime's default base: what it loads plus
        ca-certificates, tzdata, netbase and tini, locked by `./pants generate-lockfiles --resolve=<runtime address>`.
        Give it when several `debian_packages` targets list the runtime.
        """
    )


class ImageRepositoryField(StringField):
    alias = "repository"
    help = softwrap(
        """
        The image name, without a tag, e.g. `acme/hello-cli` or `registry.example.com:5000/acme/hello-cli`.
        Default: the target's name. Lowercase, as the OCI distribution spec requires.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        problem = value is not None and plan.repository_problem(value)
        if problem:
            raise _invalid(cls, address, problem)
        return value


class ImageTagsField(StringSequenceField):
    # Not `tags`: that is Pants' own field on every target (`--tag=` selection, `__defaults__`), as in Pants'
    # docker backend, whose field is `image_tags` for the same reason.
    alias = "image_tags"
    default = ("latest",)
    value: Tuple[str, ...]  # compute_value refuses an empty list
    help = softwrap(
        """
        The image's tags. Each becomes a ref name in the OCI layout and archive, and `./pants publish` pushes
        each. Default: `["latest"]`. Example: `image_tags=["1.4.2", "latest"]`. Pants' own `tags` field (for
        `--tag=` selection) is a different thing and is not an image tag.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[Iterable[str]], address: Address):
        value = super().compute_value(raw_value, address)
        if not value:
            raise _invalid(cls, address, "give at least one tag, e.g. image_tags=['latest']")
        problems = [p for p in map(plan.tag_problem, value) if p]
        if problems:
            raise _invalid(cls, address, "; ".join(problems))
        return value


class ImageEntryPointField(StringSequenceField):
    alias = "entry_point"
    help = softwrap(
        """
        Overrides the image's `Entrypoint`. Default: `/app/bin/<binary name>`, a launcher that runs the
        pex_binary's entry point (module, function or console script) with the runtime's interpreter.
        """
    )


class ImageCmdField(StringSequenceField):
    alias = "cmd"
    help = "The image's `Cmd`: default arguments for the entry point, replaced by any arguments given at `run`."


class ImageEnvField(DictStringToStringField):
    alias = "env"
    help = softwrap(
        """
        Environment variables of the image. Defaults: `PATH` (the app's launchers, the runtime's `bin`, then the
        system directories) and `LANG=C.UTF-8`; the pex_binary's `env` comes next and this field last, so it
        can override either.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[Dict[str, str]], address: Address) -> Optional[FrozenDict[str, str]]:
        value = super().compute_value(raw_value, address)
        problem = value is not None and plan.env_problem(value)
        if problem:
            raise _invalid(cls, address, problem)
        return value


class ImageUserField(StringField):
    alias = "user"
    default = plan.DEFAULT_USER
    value: str
    help = softwrap(
        f"""
        The user the container runs as: `uid[:gid]` or names defined in the base's `/etc/passwd` and
        `/etc/group`. Default: `{plan.DEFAULT_USER}`, the base's `nonroot` user, who cannot write the app or
        runtime files (they are owned by root). Set `user="0:0"` only if the app truly needs root.
        """
    )


class ImageWorkdirField(StringField):
    alias = "workdir"
    default = plan.APP_DIR
    value: str
    help = f"The working directory of the container, an absolute path. Default: `{plan.APP_DIR}`."

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        assert value is not None, "a field with a default"
        problem = plan.workdir_problem(value)
        if problem:
            raise _invalid(cls, address, problem)
        return value


class ImageLabelsField(DictStringToStringField):
    alias = "labels"
    help = softwrap(
        """
        Labels of the image config, also written as annotations of the manifest. Use the OCI keys, e.g.
        `{"org.opencontainers.image.source": "https://github.com/acme/repo",
        "org.opencontainers.image.revision": "<commit>", "org.opencontainers.image.version": "1.4.2"}`.
        `org.opencontainers.image.title` defaults to the repository name.
        """
    )


class ImageInitField(BoolField):
    alias = "init"
    default = True
    help = softwrap(
        f"""
        Run the app under tini ({plan.INIT}, from the base's Debian packages) as PID 1, as `docker run --init`
        does. The kernel ignores a signal with default disposition for PID 1, so an app that is PID 1 itself
        ignores SIGTERM (Kubernetes then waits its grace period and SIGKILLs) and never reaps orphaned children.
        tini forwards signals to the app (an app with its own SIGTERM handler keeps it), reaps orphans, and exits
        with the app's exit code (143 when SIGTERM ended it). Default: `True`; the base must then have the `tini`
        package (default bases do). `init=False` makes the app PID 1.
        """
    )


class ImageLayerCompressionField(StringField):
    alias = "layer_compression"
    valid_choices = ("gzip", "zstd")
    help = softwrap(
        """
        How this image's layers are compressed: `"gzip"` (read everywhere) or `"zstd"` (smaller, faster to
        unpack; containerd 1.5+, podman, skopeo; not Docker Engines before 23 or umoci 0.4, so `./pants run`
        uses gzip layers of the same files). Unset, it is
        `[oci-image].layer_compression` (default gzip). Either kind is reproducible (same files, same digests);
        a gzip and a zstd layer of the same files are different blobs, so images share layers only within a kind.
        """
    )


class ImagePlatformsField(StringSequenceField):
    alias = "platforms"
    help = softwrap(
        """
        The platforms to build the image for, e.g. `["linux/amd64", "linux/arm64"]`. Unset, the image is built
        for the build machine's platform (linux/amd64), as one manifest. With two or more, the output is an OCI
        image index with one manifest per platform, each from its own base, runtime build, third-party wheels
        (resolved for that platform's complete platform) and layers; the first-party layer is one blob shared by
        all, since its bytes are the same. Every platform needs the runtime built for it (its `architectures`)
        and a base for it: a `debian_packages` target of that `architecture` in `base`, or, without `base`,
        one that lists the runtime in its `runtimes`. `publish` pushes the index; `./pants run` runs the
        linux/amd64 image. A config's `architecture` and `variant` come from the ELF files of the runtime.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[Iterable[str]], address: Address):
        value = super().compute_value(raw_value, address)
        if value is None:
            return value
        parsed = []
        for text in value:
            try:
                platform = plan.image_platform(text)
            except ValueError as e:
                raise _invalid(cls, address, str(e)) from e
            if platform in parsed:
                raise _invalid(cls, address, f"{text!r} is listed twice")
            parsed.append(platform)
        if not parsed:
            raise _invalid(cls, address, "it is empty; leave it out to build for linux/amd64")
        return value


class ImageKeepRuntimeBuildFilesField(BoolField):
    alias = "keep_runtime_build_files"
    default = False
    help = softwrap(
        """
        Keep the runtime's C headers (`include/`), `python3-config`, its `config-X.Y-*/` build configuration and
        `.pc` files in the image. They serve only to compile extension modules against the interpreter, which an
        image without a compiler cannot do, so they are left out of the runtime layer by default (0.4 MB
        compressed for 3.13). The `python_runtime` package itself keeps them (Pex may build an sdist against it).
        """
    )


class ImageExposeField(StringSequenceField):
    alias = "expose"
    help = "Ports the app listens on, recorded as `ExposedPorts`: `8080`, `8080/tcp`, `53/udp`."

    @classmethod
    def compute_value(cls, raw_value: Optional[Iterable[str]], address: Address):
        value = super().compute_value(raw_value, address)
        try:
            return tuple(plan.normalize_port(p) for p in value) if value is not None else None
        except ValueError as e:
            raise _invalid(cls, address, str(e)) from e


class ImageRegistriesField(StringSequenceField):
    alias = "registries"
    help = softwrap(
        """
        The registries `./pants publish` pushes this image to: aliases of `[oci-image].registries` (`@name`) or
        registry addresses, e.g. `registries=["@ecr", "ghcr.io/acme"]`. Default: every registry of
        `[oci-image].registries` marked `default`. Not for an image whose `repository` names a host already.
        """
    )


class ImageSkipPushField(BoolField):
    alias = "skip_push"
    default = False
    help = softwrap(
        """
        If true, `./pants publish` skips this image (it is still packaged), e.g. for an image only run locally.
        Default: false.
        """
    )


class ImageDependenciesField(Dependencies):
    help = softwrap(
        """
        Other targets the image depends on. Its `runtime`, `binary` and `base` (or the `debian_packages` target
        that provides its default base) are dependencies already, inferred from those fields, so
        `./pants dependencies`, `dependents`, `paths` and `--changed-dependents` follow them: a change to the app,
        its libraries, its runtime or its base selects the image.
        """
    )


class PythonOciImageTarget(Target):
    alias = "python_oci_image"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        ImageDependenciesField,
        ImageRuntimeField,
        ImageBinaryField,
        ImageBaseField,
        ImageRepositoryField,
        ImageTagsField,
        ImageEntryPointField,
        ImageCmdField,
        ImageEnvField,
        ImageUserField,
        ImageWorkdirField,
        ImageLabelsField,
        ImageExposeField,
        ImageInitField,
        ImageKeepRuntimeBuildFilesField,
        ImageLayerCompressionField,
        ImagePlatformsField,
        OutputPathField,
        ImageRegistriesField,
        ImageSkipPushField,
    )
    help = softwrap(
        """
        An OCI image of a `pex_binary`, built without a Docker daemon. Four layers, in the order they change
        least to most: the Debian base, the compiled `python_runtime`, the third-party requirements (installed
        into the runtime's site-packages), and the first-party code (under `/app`). Changing only app code
        rebuilds only the last layer; images on one runtime share its layer.

        The app is installed at build time with deterministic bytecode, so the container extracts nothing at
        start and runs as a non-root user with a read-only root filesystem. Same inputs, same image digest:
        tar entries sorted with fixed owners, modes and mtime (`[oci-image].source_date_epoch`), gzip
        without timestamps (or zstd at a fixed level: `layer_compression`), fixed config dates.

        `./pants package` writes an OCI image layout directory and an OCI archive (`.tar`, for
        `skopeo copy oci-archive:...`, `podman load` and `docker load`) to dist/, and prints the digest.
        `./pants run` runs the image in a container with umoci and runc.

        Example:

            python_oci_image(
                name="hello-cli-image",
                runtime="src/python/runtimes:py313",
                binary=":hello-cli",
                repository="acme/hello-cli",
            )
        """
    )
