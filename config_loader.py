"""The public name of the monitoring config: ``from config_loader import load_config, MonitoringConfig``.

The config lives in the library (``dmm/config.py``); this module re-exports it for the steps, for users' own
scripts and for the capture template's neighbours. Nothing in ``dmm/`` imports this module.
"""

from dmm.config import (
                        CONFIG_ENV_VAR,
                        CONFIG_FILE_NAME,
                        KNOWN_KEYS,
                        LEDGER_FILE_NAME,
                        MonitoringConfig,
                        add_config_argument,
                        candidate_paths,
                        find_config_path,
                        is_env_name,
                        is_placeholder,
                        load_config,
                        monitor_api_url,
                        override_env_name,
                        read_config_data,
                        save_config,
                        validate_config_data,
)
from dmm.errors import ConfigError

__all__ = ["CONFIG_ENV_VAR", "CONFIG_FILE_NAME", "KNOWN_KEYS", "LEDGER_FILE_NAME", "ConfigError", "MonitoringConfig",
           "add_config_argument", "candidate_paths", "find_config_path", "is_env_name", "is_placeholder",
           "load_config", "monitor_api_url", "override_env_name", "read_config_data", "save_config",
           "validate_config_data"]
