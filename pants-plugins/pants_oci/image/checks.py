"""The checks an image passes before it is assembled, each with an error that names the target, what is wrong and
the fix: the halves match (build root and bases from one lock moment), the init is in the base, the user exists,
the entry module ships, and every ELF file loads. Also what the checks conclude: the image's architecture.

The ELF checks read facts computed once per tree, in the processes that made the trees (the base's assembly, the
runtime's facts step, the requirements layer); no file of a tree is read here.
"""
from typing import Sequence, Tuple

from pants.engine.addresses import Address
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import Digest, Snapshot
from pants.engine.rules import Get, MultiGet
from pants.engine.target import InvalidFieldException, Target

from pants_oci.bases.rules import BaseOfTarget, closure_problems
from pants_oci.debian import lockfile
from pants_oci.debian.base_rules import CheckedDebianLock, DebianLockSpec
from pants_oci.elf import closure
from pants_oci.elf.elf import ElfFacts
from pants_oci.image import plan
from pants_oci.image.inputs import AppPlan, PythonOciImageError, PythonOciImageFieldSet
from pants_oci.image.layers import ImageBase, TreeLayer
from pants_oci.image.subsystem import PythonOciImageSubsystem
from pants_oci.oci import model
from pants_oci.oci.determinism import DEFAULT_EPOCH
from pants_oci.runtime.compile import BuiltPythonRuntime
from pants_oci.runtime.field_set import PythonRuntimeFieldSet


async def source_date_epoch(subsystem: PythonOciImageSubsystem) -> int:
    env = await Get(EnvironmentVars, EnvironmentVarsRequest(["SOURCE_DATE_EPOCH"]))
    try:
        return plan.source_date_epoch(subsystem.source_date_epoch, env.get("SOURCE_DATE_EPOCH"), DEFAULT_EPOCH)
    except plan.ImagePlanError as e:
        raise PythonOciImageError(str(e)) from e


async def check_halves_match(
    address: str, runtime: Target, base_specs: Sequence[BaseOfTarget], locks, architecture: str
) -> None:
    """The runtime's build root for `architecture` and the image's bases come from one suite at one moment: the
    headers it was compiled against are those of the libraries it loads. From the locks alone, before anything
    compiles."""
    runtime_fields = PythonRuntimeFieldSet.create(runtime)
    if not runtime_fields.uses_build_root or architecture not in (runtime_fields.architectures.value or ()):
        return  # the runtime's own check names a missing architecture
    root_spec = runtime_fields.build_root_spec(architecture)
    root_lock = (await Get(CheckedDebianLock, DebianLockSpec, root_spec)).lock
    for base, lock in zip(base_specs, locks):
        problem = lockfile.halves_problem(root_lock, root_spec.address, lock.lock, base.spec.address)
        if problem:
            raise PythonOciImageError(
                f"The image {address} cannot put the runtime {runtime.address} on its base: {problem}."
            )


def check_init(field_set: PythonOciImageFieldSet, base_specs: Sequence[BaseOfTarget], locks) -> None:
    problem = plan.init_problem(
        str(field_set.address),
        field_set.init.value,
        {b.spec.address: [p.name for p in lock.lock.packages] for b, lock in zip(base_specs, locks)},
    )
    if problem:
        raise InvalidFieldException(problem)


def checked_user(field_set: PythonOciImageFieldSet, bases: Tuple[ImageBase, ...]) -> str:
    passwd = next((b.base.passwd for b in reversed(bases) if b.base.passwd is not None), None)
    group = next((b.base.group for b in reversed(bases) if b.base.group is not None), None)
    try:
        return plan.resolve_user(str(field_set.address), field_set.user.value, passwd, group)
    except plan.ImagePlanError as e:
        raise InvalidFieldException(str(e)) from e


async def check_entry_module(
    field_set: PythonOciImageFieldSet, binary: Address, app: AppPlan, runtime, deps: TreeLayer, code: TreeLayer
) -> None:
    """The module the launcher imports must be in the image; a source file no target owns is the usual cause."""
    if field_set.entry_point.value:
        return
    deps_files, app_files = await MultiGet(Get(Snapshot, Digest, deps.tree), Get(Snapshot, Digest, code.tree))
    missing = plan.missing_entry_module(
        app.entry, (*deps_files.files, *app_files.files), (plan.APP_DIR, runtime.site_packages)
    )
    if missing and app.entry:  # only a module entry point can be missing
        raise PythonOciImageError(
            f"The 'binary' of target {field_set.address}, {binary}, runs {app.entry.describe()}, but no file in "
            f"the image provides the module {missing}: it is neither among the first-party sources of {binary} "
            f"nor in its requirements. Check that a `python_sources` target owns the file (`./pants list "
            f"<path>`) and that {binary} depends on it."
        )


async def checked_architecture(
    address: str, bases: Tuple[ImageBase, ...], runtime: BuiltPythonRuntime, deps: TreeLayer
) -> Tuple[str, str]:
    """Every ELF file of the image (base, runtime, wheels) must find its libraries and symbol versions; then the
    image's architecture and variant are the one machine they are all built for (a mix is one of the problems)."""
    deps_facts = deps.built.facts or ElfFacts({}, {})
    problems = await closure_problems(tuple(b.base for b in bases), (runtime,), (deps_facts,))
    if problems:
        raise PythonOciImageError(
            f"The image {address} would not run: some ELF files (of the runtime or of third-party wheels) would "
            f"not load on its base. Add the packages that provide the missing libraries to the base's `packages`, "
            f"or use wheels built for an older glibc.\n" + closure.format_problems(problems)
        )
    runtime_facts = await Get(ElfFacts, BuiltPythonRuntime, runtime)
    machines = {info.machine for info in runtime_facts.elves.values() if info.machine}
    if len(machines) != 1:
        raise PythonOciImageError(
            f"The image {address} has no single architecture: the runtime {runtime.address} has ELF files for "
            f"{', '.join(sorted(machines)) or 'no machine'}."
        )
    machine = machines.pop()
    try:
        return model.oci_architecture(machine), model.oci_variant(machine)
    except ValueError as e:
        raise PythonOciImageError(f"The image {address} cannot be labelled: {e}.") from e
