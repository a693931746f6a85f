"""SCons build script of the in-repo `tinycodec_arm` platform: bare-metal Cortex-M with arm-none-eabi-gcc.

Board JSON keys used: build.cpu, build.fpu, build.ldscript (relative to the project).
`pio run -t upload` boots the ELF in QEMU (python -m tinycodec.link.qemu --board <env>: the machine comes from the
board table, python/tinycodec/link/boards.txt) instead of flashing a board.
"""

import os
import shutil

from SCons.Script import AlwaysBuild, Default, DefaultEnvironment

env = DefaultEnvironment()
platform = env.PioPlatform()
board = env.BoardConfig()
project_dir = env.subst("$PROJECT_DIR")

tc_dir = platform.get_package_dir("toolchain-arm-debian")
if tc_dir and os.path.isdir(os.path.join(tc_dir, "bin")):
    env.PrependENVPath("PATH", os.path.join(tc_dir, "bin"))
elif not shutil.which("arm-none-eabi-gcc"):
    env.Exit("arm-none-eabi-gcc not found: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")

env.Replace(
    AR="arm-none-eabi-gcc-ar", AS="arm-none-eabi-gcc", CC="arm-none-eabi-gcc", CXX="arm-none-eabi-g++",
    OBJCOPY="arm-none-eabi-objcopy", RANLIB="arm-none-eabi-gcc-ranlib", SIZETOOL="arm-none-eabi-size",
    ARFLAGS=["rc"], PROGNAME="firmware", PROGSUFFIX=".elf",
    SIZEPROGREGEXP=r"^(?:\.text|\.data|\.rodata|\.ARM\.exidx|\.vectors)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss|\.noinit|\.stack)\s+(\d+).*",
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES", SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
)

machine = ["-mthumb", "-mcpu=%s" % board.get("build.cpu")]
if board.get("build.fpu", ""):
    machine += ["-mfpu=%s" % board.get("build.fpu"), "-mfloat-abi=hard"]
env.Append(
    ASFLAGS=machine + ["-x", "assembler-with-cpp"],
    CCFLAGS=machine + ["-O2", "-g", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections"],
    CFLAGS=["-std=c11"],
    CXXFLAGS=["-std=c++17", "-fno-rtti", "-fno-exceptions"],
    LINKFLAGS=machine + ["-O2", "--specs=nano.specs", "-nostartfiles", "-Wl,--gc-sections",
                         "-Wl,-Map=${BUILD_DIR}/firmware.map", "-Wl,--print-memory-usage"],
    LIBS=["c", "m", "gcc"],
)
ldscript = board.get("build.ldscript", "")
if ldscript:
    env.Replace(LDSCRIPT_PATH=os.path.join(project_dir, ldscript))

target_elf = env.BuildProgram()
target_size = env.AddPlatformTarget("size", target_elf, env.VerboseAction("$SIZEPRINTCMD", "Calculating size $SOURCE"),
                                    "Program Size")

# "upload" = boot the emulated board (QEMU) with this ELF; runs until Ctrl-C, prints the serial URL.
env["ENV"]["PYTHONPATH"] = os.pathsep.join(p for p in (os.path.join(project_dir, "python"),
                                                       env["ENV"].get("PYTHONPATH", "")) if p)
# the QEMU machine of this env comes from the board table (python/tinycodec/link/boards.txt)
upload_cmd = '"$PYTHONEXE" -m tinycodec.link.qemu --elf "$SOURCE" --board %s' % env.subst("$PIOENV")
env.AddPlatformTarget("upload", target_elf, env.VerboseAction(upload_cmd, "Booting $SOURCE in QEMU"), "Upload")

AlwaysBuild(target_size)
Default([target_elf, target_size])
