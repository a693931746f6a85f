import SCons.Script  # noqa: I001  (scons==4.11.1, installed in the same venv as platformio)
SCons.Script.main()
