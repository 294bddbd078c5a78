import subprocess
import sys


def test_import_needs_neither_triton_nor_cuda():
    code = (
        "import sys; sys.modules['triton'] = None\n"  # makes any `import triton` fail
        "import vqcodec, vqcodec.kernels\n"
        "assert 'triton' not in sys.modules or sys.modules['triton'] is None\n"
        "print('ok')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"CUDA_VISIBLE_DEVICES": "", "PATH": ""})  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
